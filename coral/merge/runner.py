"""Running a merge: fast-forward, up to date, or plan, compute, store and commit.

The expensive part (reading and combining tensors, storing the results) runs without the
repository lock, so other processes keep working; the commit is then made under the lock and
only if HEAD has not moved meanwhile (else :class:`ConcurrentUpdateError`, nothing lost: the
stored objects are reused when the merge is run again). Objects are durable before the commit
names them and the commit before the ref moves, as for any commit, so a merge killed at any
point leaves the repository as it was or merged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from coral.errors import ConcurrentUpdateError, InvalidValueError, StagedChangesError
from coral.history.service import History
from coral.merge.plan import (
    MergeKind,
    MergePlan,
    MergeStrategy,
    NonFloat,
    Resolution,
    StrategyChooser,
    WeightVersion,
    base_versions,
    check_resolvable,
    merged_tensors,
    plan_tensors,
    result_weights,
)
from coral.records.commit import Commit, CommitMetadata
from coral.records.parts import RepositoryParts
from coral.records.refs import Head
from coral.storage.objects import WriteRequest
from coral.workspace.workspace import Workspace


@dataclass(frozen=True)
class MergeRequest:
    """A merge as the user asked for it, checked."""

    source: str
    chooser: StrategyChooser
    non_float: NonFloat
    message: str | None
    allow_unrelated: bool

    @classmethod
    def build(
        cls,
        source: str,
        strategy: MergeStrategy | str,
        message: str | None,
        merge_alpha: float | None,
        overrides: Mapping[str, Any] | None,
        non_float: str,
        allow_unrelated: bool,
        params: Mapping[str, Any],
    ) -> MergeRequest:
        if not isinstance(source, str) or not source:
            raise InvalidValueError(f"merge needs a branch, tag or commit to merge, got {source!r}")
        if message is not None and not isinstance(message, str):
            raise InvalidValueError(f"merge message must be a string, got {type(message).__name__}")
        chosen = MergeStrategy.parse(strategy)
        given = dict(params)
        if merge_alpha is not None:
            if chosen is not MergeStrategy.WEIGHTED:
                raise InvalidValueError(
                    f"merge_alpha applies to strategy 'weighted', not {chosen.value!r}"
                )
            given["merge_alpha"] = merge_alpha
        try:
            non_float_policy = NonFloat(non_float)
        except ValueError:
            raise InvalidValueError(
                f"non_float must be 'ours', 'theirs' or 'fail', got {non_float!r}"
            ) from None
        chooser = StrategyChooser(Resolution.build(chosen, given), overrides)
        return cls(source, chooser, non_float_policy, message, allow_unrelated)


class MergeRunner:
    """Merges a ref into a workspace's ref (HEAD's, for the repository's own workspace)."""

    def __init__(self, parts: RepositoryParts, history: History, workspace: Workspace) -> None:
        self._parts = parts
        self._history = history
        self._workspace = workspace

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
        return self.plan(request) if dry_run else self.run(request)

    def plan(self, request: MergeRequest) -> MergePlan:
        """Every decision of the merge, nothing written."""
        return self._plan(request)[0]

    def _plan(self, request: MergeRequest) -> tuple[MergePlan, dict[str, WeightVersion]]:
        theirs = self._history.resolve(request.source)
        ours = self._workspace.tip().commit_hash

        def make(kind: MergeKind, bases: tuple[str, ...] = (), tensors: Any = ()) -> MergePlan:
            return MergePlan(
                kind=kind,
                source=request.source,
                ours=ours,
                theirs=theirs,
                bases=bases,
                resolution=request.chooser.default,
                overrides=request.chooser.to_json(),
                non_float=request.non_float.value,
                tensors=tensors,
            )

        if ours is not None and (ours == theirs or self._history.graph.is_ancestor(theirs, ours)):
            return make("up-to-date"), {}
        if ours is None or self._history.graph.is_ancestor(ours, theirs):
            return make("fast-forward"), {}
        bases = self._history.graph.get_merge_bases(ours, theirs)
        if not bases and not request.allow_unrelated:
            raise InvalidValueError(
                f"refusing to merge unrelated histories: {request.source} shares no commit with "
                "HEAD; pass allow_unrelated=True to merge them as if from an empty base"
            )
        base = (
            base_versions(bases, self._parts.commits.get, self._history.graph.best_common_ancestors)
            if bases
            else {}
        )
        tensors = plan_tensors(
            self._parts.commits.get(ours),
            self._parts.commits.get(theirs),
            base,
            request.chooser,
            request.non_float,
        )
        return make("merge", tuple(bases), tensors), base

    def run(self, request: MergeRequest) -> Commit:
        """Carry out the merge; returns the commit HEAD points to afterwards."""
        with self._parts.store.guard_writes():  # until the merge commit references its objects
            return self._run(request)

    def _run(self, request: MergeRequest) -> Commit:
        plan, base = self._plan(request)
        if plan.kind == "up-to-date":
            return self._parts.commits.get(str(plan.ours))
        self._check_staging()  # fail fast; checked again under the lock
        theirs = self._parts.commits.get(plan.theirs)
        if plan.kind == "fast-forward":
            with self._parts.lock.hold():
                head = self._head_ready_to_move(plan)
                self._workspace.advance(head, theirs, f"merge {plan.source}: Fast-forward")
            return theirs
        check_resolvable(plan)
        ours = self._parts.commits.get(str(plan.ours))
        merged = self._store_merged(plan, ours, theirs, base, request.chooser)
        hashes, weight_metadata = result_weights(plan, ours, theirs, merged)
        author, email = self._parts.identity()
        message = request.message or self._default_message(plan)
        extra: dict[str, Any] = {"merge": plan.record()}
        lossy = sorted(n for n, m in weight_metadata.items() if "lossy" in m.extra)
        if lossy:
            extra["lossy_weights"] = lossy
        metadata = CommitMetadata(
            author=author, email=email, message=message, tags=["merge"], extra=extra
        )
        with self._parts.lock.hold():
            head = self._head_ready_to_move(plan)
            commit = self._workspace.record_commit(
                head,
                [ours.commit_hash, theirs.commit_hash],
                hashes,
                weight_metadata,
                metadata,
                f"merge {plan.source}: Merge made by the '{plan.resolution.strategy.value}' "
                "strategy",
            )
        return commit

    def _store_merged(
        self,
        plan: MergePlan,
        ours: Commit,
        theirs: Commit,
        base: dict[str, WeightVersion],
        chooser: StrategyChooser,
    ) -> dict[str, str]:
        """Compute and store the merged tensors, one at a time; name -> object ID."""
        planner = self._workspace.planner(ours)  # deltas against our version of each weight
        names: list[str] = []

        def requests() -> Iterator[WriteRequest]:
            for name, array, metadata in merged_tensors(
                plan, ours, theirs, base, chooser, self._history.read_object
            ):
                names.append(name)
                yield planner.plan(name, array, metadata)[1]

        with self._parts.store.writer() as writer:
            oids = writer.add_many(requests())
        return dict(zip(names, oids, strict=True))

    def _check_staging(self) -> None:
        if self._workspace.status().has_changes:
            raise StagedChangesError(
                "weights are staged; commit them or call repo.reset() before merging"
            )

    def _head_ready_to_move(self, plan: MergePlan) -> Head:
        """HEAD, checked to be where the plan started with nothing staged against it (called
        with the lock held, just before HEAD moves). Staged entries equal to HEAD are dropped:
        once HEAD moves they would revert the merge in the next commit."""
        head = self._workspace.tip()
        if head.commit_hash != plan.ours:
            raise ConcurrentUpdateError(
                f"HEAD moved from {str(plan.ours)[:8]} to {str(head.commit_hash)[:8]} while "
                f"merging {plan.source}; run the merge again"
            )
        self._check_staging()
        # Anything left staged (entries equal to HEAD, removals of names HEAD lacks) would
        # apply to the merged snapshot in the next commit: drop it.
        self._workspace.unstage(None)
        return head

    def _default_message(self, plan: MergePlan) -> str:
        if self._history.is_branch(plan.source):
            return f"Merge branch '{plan.source}'"
        if self._history.is_tag(plan.source):
            return f"Merge tag '{plan.source}'"
        return f"Merge commit '{plan.theirs[:8]}'"


def preview_merge(
    parts: RepositoryParts,
    history: History,
    source: str,
    into: str,
    strategy: MergeStrategy | str = "average",
    **params: Any,
) -> MergePlan:
    """The plan of merging ``source`` into branch ``into``: what ``merge(...,
    dry_run=True)`` returns with ``into`` checked out, but HEAD does not move and nothing is
    written (comparing two runs).

    Raises:
        InvalidValueError: ``into`` is not a branch.
    """
    if not history.is_branch(into):
        raise InvalidValueError(f"{into!r} is not a branch; merges go into a branch")
    runner = MergeRunner(parts, history, Workspace(parts, history, branch=into))
    plan = runner.merge(source, strategy, dry_run=True, **params)
    assert isinstance(plan, MergePlan)  # a dry run
    return plan
