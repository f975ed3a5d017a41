"""Running a merge: fast-forward, up to date, or plan, compute, store and commit.

The expensive part (reading and combining tensors, storing the results) runs without the
repository lock, so other processes keep working; the commit is then made under the lock and
only if HEAD has not moved meanwhile (else :class:`ConcurrentUpdateError`, nothing lost: the
stored objects are reused when the merge is run again). Objects are durable before the commit
names them and the commit before the ref moves, as for any commit, so a merge killed at any
point leaves the repository as it was or merged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from coral.core.weight_tensor import WeightMetadata
from coral.errors import ConcurrentUpdateError, InvalidValueError, StagedChangesError
from coral.history.graph import VersionGraph
from coral.merge.plan import (
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
from coral.records.commits import CommitStore
from coral.records.refs import Head
from coral.storage.locking import RepositoryLock
from coral.storage.objects import WriteRequest
from coral.storage.store import TensorStore
from coral.workspace.status import Status
from coral.workspace.write_plan import WritePlanner

RecordCommit = Callable[
    [Head, list[str], dict[str, str], dict[str, WeightMetadata], CommitMetadata, str], Commit
]


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
    """Merges a ref into HEAD. Built by :class:`Repository` from its collaborators."""

    def __init__(
        self,
        *,
        resolve: Callable[[str], str],
        head: Callable[[], Head],
        commits: CommitStore,
        graph: VersionGraph,
        store: TensorStore,
        lock: RepositoryLock,
        staged: Callable[[], Status],
        clear_staging: Callable[[], None],
        planner_for: Callable[[Commit], WritePlanner],
        load: Callable[[str], np.ndarray],
        record_commit: RecordCommit,
        advance_head: Callable[[Head, Commit, str], None],
        identity: Callable[[], tuple[str, str]],
        is_branch: Callable[[str], bool],
        is_tag: Callable[[str], bool],
    ) -> None:
        self._resolve = resolve
        self._head = head
        self._commits = commits
        self._graph = graph
        self._store = store
        self._lock = lock
        self._staged = staged
        self._clear_staging = clear_staging
        self._planner_for = planner_for
        self._load = load
        self._record_commit = record_commit
        self._advance_head = advance_head
        self._identity = identity
        self._is_branch = is_branch
        self._is_tag = is_tag

    def plan(self, request: MergeRequest) -> MergePlan:
        """Every decision of the merge, nothing written."""
        return self._plan(request)[0]

    def _plan(self, request: MergeRequest) -> tuple[MergePlan, dict[str, WeightVersion]]:
        theirs = self._resolve(request.source)
        ours = self._head().commit_hash

        def make(kind: str, bases: tuple[str, ...] = (), tensors: Any = ()) -> MergePlan:
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

        if ours is not None and (ours == theirs or self._graph.is_ancestor(theirs, ours)):
            return make("up-to-date"), {}
        if ours is None or self._graph.is_ancestor(ours, theirs):
            return make("fast-forward"), {}
        bases = self._graph.get_merge_bases(ours, theirs)
        if not bases and not request.allow_unrelated:
            raise InvalidValueError(
                f"refusing to merge unrelated histories: {request.source} shares no commit with "
                "HEAD; pass allow_unrelated=True to merge them as if from an empty base"
            )
        base = (
            base_versions(bases, self._commits.get, self._graph.best_common_ancestors)
            if bases
            else {}
        )
        tensors = plan_tensors(
            self._commits.get(ours),
            self._commits.get(theirs),
            base,
            request.chooser,
            request.non_float,
        )
        return make("merge", tuple(bases), tensors), base

    def run(self, request: MergeRequest) -> Commit:
        """Carry out the merge; returns the commit HEAD points to afterwards."""
        with self._store.guard_writes():  # until the merge commit references its objects
            return self._run(request)

    def _run(self, request: MergeRequest) -> Commit:
        plan, base = self._plan(request)
        if plan.kind == "up-to-date":
            return self._commits.get(str(plan.ours))
        self._check_staging()  # fail fast; checked again under the lock
        theirs = self._commits.get(plan.theirs)
        if plan.kind == "fast-forward":
            with self._lock.hold():
                head = self._head_ready_to_move(plan)
                self._advance_head(head, theirs, f"merge {plan.source}: Fast-forward")
            return theirs
        check_resolvable(plan)
        ours = self._commits.get(str(plan.ours))
        merged = self._store_merged(plan, ours, theirs, base, request.chooser)
        hashes, weight_metadata = result_weights(plan, ours, theirs, merged)
        author, email = self._identity()
        message = request.message or self._default_message(plan)
        extra: dict[str, Any] = {"merge": plan.record()}
        lossy = sorted(n for n, m in weight_metadata.items() if "lossy" in m.extra)
        if lossy:
            extra["lossy_weights"] = lossy
        metadata = CommitMetadata(
            author=author, email=email, message=message, tags=["merge"], extra=extra
        )
        with self._lock.hold():
            head = self._head_ready_to_move(plan)
            commit = self._record_commit(
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
        planner = self._planner_for(ours)  # deltas against our version of each weight
        names: list[str] = []

        def requests() -> Iterator[WriteRequest]:
            for name, array, metadata in merged_tensors(
                plan, ours, theirs, base, chooser, self._load
            ):
                names.append(name)
                yield planner.plan(name, array, metadata)[1]

        with self._store.writer() as writer:
            oids = writer.add_many(requests())
        return dict(zip(names, oids, strict=True))

    def _check_staging(self) -> None:
        if self._staged().has_changes:
            raise StagedChangesError(
                "weights are staged; commit them or call repo.reset() before merging"
            )

    def _head_ready_to_move(self, plan: MergePlan) -> Head:
        """HEAD, checked to be where the plan started with nothing staged against it (called
        with the lock held, just before HEAD moves). Staged entries equal to HEAD are dropped:
        once HEAD moves they would revert the merge in the next commit."""
        head = self._head()
        if head.commit_hash != plan.ours:
            raise ConcurrentUpdateError(
                f"HEAD moved from {str(plan.ours)[:8]} to {str(head.commit_hash)[:8]} while "
                f"merging {plan.source}; run the merge again"
            )
        self._check_staging()
        # Anything left staged (entries equal to HEAD, removals of names HEAD lacks) would
        # apply to the merged snapshot in the next commit: drop it.
        self._clear_staging()
        return head

    def _default_message(self, plan: MergePlan) -> str:
        if self._is_branch(plan.source):
            return f"Merge branch '{plan.source}'"
        if self._is_tag(plan.source):
            return f"Merge tag '{plan.source}'"
        return f"Merge commit '{plan.theirs[:8]}'"
