"""``Repository.merge``: the public merge API, kept apart from the rest of the facade."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

from coral.core.weight_tensor import WeightMetadata
from coral.delta.similarity import SimilarityIndex
from coral.history.graph import VersionGraph
from coral.merge.plan import MergePlan, MergeStrategy
from coral.merge.runner import MergeRequest, MergeRunner
from coral.records.commit import Commit, CommitMetadata
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.records.identity import resolve_identity
from coral.records.refs import Head, RefStore
from coral.records.staging import StagingArea
from coral.records.tags import VersionStore
from coral.storage.locking import RepositoryLock
from coral.storage.pack_store import PackStore
from coral.workspace.status import Status
from coral.workspace.write_plan import WritePlanner


class MergeCommands:
    """The merge methods of :class:`~coral.version_control.Repository` (a mixin: it uses the
    repository's collaborators, declared here)."""

    config: Config
    store: PackStore
    version_graph: VersionGraph
    _lock: RepositoryLock
    _commits: CommitStore
    _refs: RefStore
    _versions: VersionStore
    _similarity: SimilarityIndex
    _staging: StagingArea
    resolve_ref: Callable[[str], str]
    status: Callable[[], Status]
    _is_branch: Callable[[str], bool]
    _verify_reads: Callable[[], bool]
    _advance_head: Callable[[Head, Commit, str], None]
    _record_commit: Callable[
        [Head, list[str], dict[str, str], dict[str, WeightMetadata], CommitMetadata, str], Commit
    ]

    @overload
    def merge(
        self,
        source_branch: str,
        strategy: MergeStrategy | str = ...,
        message: str | None = ...,
        merge_alpha: float | None = ...,
        *,
        dry_run: Literal[False] = ...,
        overrides: Mapping[str, Any] | None = ...,
        non_float: str = ...,
        allow_unrelated: bool = ...,
        **params: Any,
    ) -> Commit: ...

    @overload
    def merge(
        self,
        source_branch: str,
        strategy: MergeStrategy | str = ...,
        message: str | None = ...,
        merge_alpha: float | None = ...,
        *,
        dry_run: Literal[True],
        overrides: Mapping[str, Any] | None = ...,
        non_float: str = ...,
        allow_unrelated: bool = ...,
        **params: Any,
    ) -> MergePlan: ...

    def merge(
        self,
        source_branch: str,
        strategy: MergeStrategy | str = MergeStrategy.OURS,
        message: str | None = None,
        merge_alpha: float | None = None,
        *,
        dry_run: bool = False,
        overrides: Mapping[str, Any] | None = None,
        non_float: str = "ours",
        allow_unrelated: bool = False,
        **params: Any,
    ) -> Commit | MergePlan:
        """Merge a branch (or any ref) into HEAD, three-way against their merge base.

        Weights changed on one side only take that side; weights changed on both are resolved
        by ``strategy``. When HEAD is an ancestor of the source, HEAD fast-forwards (no merge
        commit); when the source is already in HEAD's history, nothing happens.

        Args:
            source_branch: the branch, tag or commit to merge.
            strategy: a :class:`MergeStrategy` or its value: ``"ours"``, ``"theirs"``,
                ``"fail"``, ``"average"``, ``"weighted"``, or the model-merging methods
                ``"task_arithmetic"`` (``lambda_``, ``weights``), ``"ties"`` (``density``,
                ``lambda_``, ``weights``), ``"dare"`` (``density``, ``rescale``,
                ``sign_election``, ``seed``, ``lambda_``, ``weights``), ``"slerp"`` (``t``).
            message: the merge commit's message (default ``"Merge branch '<source>'"``).
            merge_alpha: for ``"weighted"``: ``alpha * ours + (1 - alpha) * theirs``
                (default 0.5).
            dry_run: return the :class:`MergePlan` (per weight: which side, conflict, how
                resolved) without writing anything.
            overrides: glob -> strategy (or ``{"strategy": ..., **params}``) for the weights
                whose names match; the first matching glob wins.
            non_float: conflicting integer/bool/complex weights, model files (``stage_files``)
                and optimizer state (``stage_optimizer_state``) are never combined, whatever
                their shapes: take ``"ours"`` (default) or ``"theirs"``, or ``"fail"``. An
                optimizer state changed on both sides is taken whole from that side (its
                Adam moments too, under TIES or DARE as under AVERAGE): averaging two runs'
                moments means nothing, and a mix of their entries would be a state neither
                run had.
            allow_unrelated: merge histories without a common commit (empty base).
            **params: the strategy's parameters (``lambda`` may be given as ``lambda_``).

        Returns:
            The merge commit (two parents); for a fast-forward or an up-to-date merge, the
            commit HEAD now points to. With ``dry_run``, the plan.

        Raises:
            MergeConflictError: weights the strategy may not or cannot combine (``"fail"``,
                shape or dtype mismatch, no base version); nothing is written. Its
                ``conflicts`` lists their names and ``reasons`` says why.
            StagedChangesError: weights are staged (commit or reset them first).
            InvalidValueError: unknown strategy or parameter, or a value out of range.

        Example:
            >>> repo.merge("finetune-b", strategy="ties", density=0.3)  # doctest: +SKIP
        """
        request = MergeRequest.build(
            source_branch,
            strategy,
            message,
            merge_alpha,
            overrides,
            non_float,
            allow_unrelated,
            params,
        )
        runner = self._merge_runner()
        return runner.plan(request) if dry_run else runner.run(request)

    def _merge_runner(self) -> MergeRunner:
        def identity() -> tuple[str, str]:
            return resolve_identity(
                self.config.get("user.name", None), self.config.get("user.email", None)
            )

        return MergeRunner(
            resolve=self.resolve_ref,
            head=self._refs.head,
            commits=self._commits,
            graph=self.version_graph,
            store=self.store,
            lock=self._lock,
            staged=self.status,
            clear_staging=lambda: self._staging.unstage(None),
            planner_for=lambda ours: WritePlanner(
                self.config, self.store, self._similarity, ours, self._commits, lossy=False
            ),
            load=lambda oid: self.store.read(oid, verify=self._verify_reads()),
            record_commit=self._record_commit,
            advance_head=self._advance_head,
            identity=identity,
            is_branch=self._is_branch,
            is_tag=lambda ref: self._versions.by_name(ref) is not None,
        )
