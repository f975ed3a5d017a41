"""``Repository``: the one object a user needs, a facade over services built from parts.

A repository is its parts (:class:`~coral.records.parts.RepositoryParts`: records and the
object store); the services read and write through them: :class:`History` (refs, log, diff,
show, blame, bisect, reading weights), :class:`Workspace` (staging, commits, checkout),
:class:`MergeRunner`, :class:`Transfers` (remotes), :class:`ModelFiles` and
:class:`Maintenance`. Each method here delegates to one of them and carries its docstring.

Example:
    >>> import numpy as np
    >>> from coral.version_control import Repository
    >>> repo = Repository("./my_project", init=True)                    # doctest: +SKIP
    >>> repo.stage_weights({"fc.weight": np.ones((4, 4), np.float32)})   # doctest: +SKIP
    >>> commit = repo.commit("first weights")                             # doctest: +SKIP
    >>> repo.get_weight("fc.weight").shape                                # doctest: +SKIP
    (4, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar, overload

import numpy as np

from coral.core.weight_tensor import WeightTensor
from coral.delta.repack import RepackResult
from coral.errors import InvalidValueError
from coral.history.bisect import BisectResult, Test
from coral.history.blame import BlameEntry
from coral.history.graph import VersionGraph
from coral.history.lazy import LazyWeights
from coral.history.service import History
from coral.history.show import CommitView
from coral.integrations.model_files import ModelFiles
from coral.maintenance.fsck import FsckReport
from coral.maintenance.gc import GcReport
from coral.maintenance.service import Maintenance, StorageStats
from coral.merge.plan import MergePlan, MergeStrategy
from coral.merge.runner import MergeRunner, preview_merge
from coral.records.branch import Branch, BranchManager
from coral.records.commit import Commit
from coral.records.layout import RepoLayout
from coral.records.parts import RepositoryParts, memory_parts, open_parts
from coral.records.refs import Head, ReflogEntry
from coral.records.tags import Version
from coral.remote.backend import Backend
from coral.remote.clone import prepare_clone
from coral.remote.results import PullResult, PushResult, SyncResult, SyncStatus
from coral.remote.service import ProgressCallback, Transfers
from coral.runs import Run, RunInfo, Runs
from coral.storage.store import TensorStore
from coral.workspace.refs import Refs
from coral.workspace.status import Status
from coral.workspace.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R", bound="Repository")


def _doc(source: Callable[..., Any]) -> Callable[[F], F]:
    """Give a delegating method the docstring of the service method it calls (one copy)."""

    def apply(method: F) -> F:
        method.__doc__ = source.__doc__
        return method

    return apply


class Repository:
    """A Coral repository: a ``.coral`` directory of weights, commits, branches and tags.

    Args:
        path: the project directory. Without ``init``, it may be any directory inside an
            existing repository (the nearest enclosing ``.coral`` is used, like git).
        init: create ``path/.coral`` if it does not exist yet.

    Raises:
        NotARepositoryError: (a ``FileNotFoundError``) no repository at or above ``path``.
    """

    def __init__(self, path: str | Path = ".", init: bool = False) -> None:
        self._assemble(open_parts(path, init=init))

    @classmethod
    def in_memory(cls: type[R]) -> R:
        """A new, empty repository that lives in memory: records in a dict, weights in a
        :class:`~coral.storage.memory_store.MemoryStore` with the same delta encoding, on
        an unborn ``main``. Everything but the directory works (``path``, ``gc`` and
        ``repack``'s pack rewrite need a disk); it is gone when the object is. For tests,
        property tests and notebooks that try something out
        (``Repository.in_memory().stage_weights({"w": np.zeros(3, np.float32)})``).
        """
        return cls.from_parts(memory_parts())

    @classmethod
    def from_parts(cls: type[R], parts: RepositoryParts) -> R:
        """A repository over parts built elsewhere (a store or records of your own)."""
        repo = cls.__new__(cls)
        repo._assemble(parts)
        return repo

    def _assemble(self, parts: RepositoryParts) -> None:
        self.parts = parts
        self.config = parts.config
        self.store: TensorStore = parts.store
        self._history = History(parts)
        self._workspace = Workspace(parts, self._history)
        self.branch_manager = BranchManager(
            parts.refs, self._history.resolve, who=parts.who, tags=parts.versions
        )
        self._refs = Refs(parts, self._history, self.branch_manager)
        self._transfers = Transfers(parts, self.branch_manager)
        self._runs = Runs(parts, self._history, self._refs)
        self._files = ModelFiles(parts, self._history, self._workspace)
        self._maintenance = Maintenance(parts, self._history)

    # --- where things are ---

    @property
    def path(self) -> Path:
        """The project directory (the parent of ``.coral``)."""
        return self._layout().root

    @property
    def coral_dir(self) -> Path:
        return self._layout().coral_dir

    def _layout(self) -> RepoLayout:
        if self.parts.layout is None:
            raise InvalidValueError("this repository lives in memory: it has no directory")
        return self.parts.layout

    @property
    def version_graph(self) -> VersionGraph:
        """The commit graph: ancestors, descendants, paths, merge bases, weight history."""
        return self._history.graph

    @property
    def head(self) -> Head:
        """Where HEAD points: ``head.branch`` (None when detached) and ``head.commit_hash``."""
        return self.parts.refs.head()

    @property
    def current_branch(self) -> str | None:
        return self.parts.refs.head().branch

    # --- refs ---

    @_doc(History.resolve)
    def resolve_ref(self, ref: str) -> str:
        return self._history.resolve(ref)

    def get_commit(self, ref: str = "HEAD") -> Commit:
        """The commit ``ref`` names (default HEAD)."""
        return self._history.commit(ref)

    @_doc(History.ref_tips)
    def ref_tips(self, *, include_head: bool = True) -> list[str]:
        return self._history.ref_tips(include_head=include_head)

    @_doc(History.ref_labels)
    def ref_labels(self) -> dict[str, list[str]]:
        return self._history.ref_labels()

    # --- staging and committing ---

    @_doc(Workspace.stage_weights)
    def stage_weights(
        self,
        weights: Mapping[str, WeightTensor | np.ndarray | Any],
        *,
        partial: bool = False,
        remove_missing: bool = False,
        lossy: bool | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> dict[str, str]:
        return self._workspace.stage_weights(
            weights, partial=partial, remove_missing=remove_missing, lossy=lossy, progress=progress
        )

    @_doc(Workspace.stage_removal)
    def stage_removal(self, names: str | Iterable[str]) -> None:
        self._workspace.stage_removal(names)

    @_doc(Workspace.unstage)
    def unstage(self, names: str | Iterable[str] | None = None) -> None:
        self._workspace.unstage(names)

    def status(self) -> Status:
        """Where HEAD is, and what the next commit would add, modify or remove (including
        HEAD's weights the staged snapshot leaves out)."""
        return self._workspace.status()

    @_doc(Workspace.commit)
    def commit(
        self,
        message: str,
        author: str | None = None,
        email: str | None = None,
        tags: list[str] | str | None = None,
        *,
        allow_empty: bool = False,
        metrics: Mapping[str, float] | None = None,
    ) -> Commit:
        return self._workspace.commit(
            message, author, email, tags, allow_empty=allow_empty, metrics=metrics
        )

    # --- branches, checkout, tags ---

    @_doc(Refs.create_branch)
    def create_branch(self, name: str, from_ref: str | None = None) -> Branch:
        return self._refs.create_branch(name, from_ref)

    @_doc(Refs.delete_branch)
    def delete_branch(self, name: str, *, force: bool = False) -> Branch:
        return self._refs.delete_branch(name, force=force)

    def checkout(self, target: str, *, force: bool = False) -> Commit:
        """Switch HEAD to a branch, or detach it at any other ref (tag, hash, ``main~2``).

        Raises:
            StagedChangesError: weights are staged (commit them, ``repo.reset()``, or pass
                ``force=True`` to drop them).
        """
        return self._workspace.checkout(target, force=force)

    def reset(self, ref: str | None = None) -> Commit | None:
        """Like ``git reset``: without ``ref``, empty the staging area; with one, also move
        the current branch to ``ref`` (any ref, including ``main@{1}`` from the reflog: the
        way to undo a commit, a merge or a pull). The move is recorded in the branch's and
        HEAD's reflogs, so it can itself be undone. Returns the commit the branch now points
        at."""
        return self._workspace.reset(ref)

    @_doc(Refs.tag_version)
    def tag_version(
        self,
        name: str,
        description: str | None = None,
        metrics: Mapping[str, float] | None = None,
        commit_ref: str | None = None,
    ) -> Version:
        return self._refs.tag_version(name, description, metrics, commit_ref)

    def list_versions(self) -> list[Version]:
        """All tags, oldest first."""
        return list(self.parts.versions.all().values())

    def get_version(self, name: str) -> Version:
        return self.parts.versions.get(name)

    def delete_version(self, name: str) -> Version:
        return self.parts.versions.delete(name)

    # --- runs ---

    @_doc(Runs.start_run)
    def start_run(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        from_ref: str | None = None,
        resume: bool = False,
    ) -> Run:
        return self._runs.start_run(name, params, from_ref=from_ref, resume=resume)

    @_doc(Runs.runs)
    def runs(self) -> list[RunInfo]:
        return self._runs.runs()

    @_doc(Runs.run_info)
    def run_info(self, name: str) -> RunInfo:
        return self._runs.run_info(name)

    @_doc(Runs.metric_history)
    def metric_history(self, run: str) -> dict[str, list[tuple[int, float]]]:
        return self._runs.metric_history(run)

    # --- reading weights ---

    def get_weight(
        self, name: str, commit_ref: str | None = None, remote: str | None = None
    ) -> WeightTensor:
        """One weight, bit-exact, from a commit (default: HEAD).

        With ``remote``, ``commit_ref`` names a branch, tag or commit *on that remote*, and
        only this weight's objects (and their delta bases) are downloaded: a look at one layer
        of a large model without pulling all of it.
        """
        if remote is not None:
            commit = self._transfers.fetch_weight_commit(remote, commit_ref or "HEAD", name)
        else:
            commit = self.get_commit(commit_ref or "HEAD")
        return self._history.weight(name, commit)

    def get_all_weights(
        self, commit_ref: str | None = None, *, lazy: bool = False
    ) -> dict[str, WeightTensor] | LazyWeights:
        """Every weight of a commit (default: HEAD), bit-exact.

        Args:
            lazy: return a :class:`LazyWeights` mapping that reads each tensor on access.
        """
        commit = self.get_commit(commit_ref or "HEAD")
        return self._history.lazy_weights(commit) if lazy else self._history.weights(commit)

    # --- history ---

    @_doc(History.log)
    def log(self, max_commits: int | None = None, branch: str | None = None) -> list[Commit]:
        return self._history.log(max_commits, branch)

    @_doc(History.diff)
    def diff(
        self, from_ref: str, to_ref: str | None = None, *, stats: bool = False
    ) -> dict[str, Any]:
        return self._history.diff(from_ref, to_ref, stats=stats)

    @_doc(History.show)
    def show(self, ref: str = "HEAD") -> CommitView:
        return self._history.show(ref)

    @_doc(History.blame)
    def blame(self, ref: str = "HEAD", *, stats: bool = True) -> dict[str, BlameEntry]:
        return self._history.blame(ref, stats=stats)

    @_doc(History.reflog)
    def reflog(self, ref: str | None = None) -> list[ReflogEntry]:
        return self._history.reflog(ref)

    @_doc(History.bisect)
    def bisect(
        self,
        good: str,
        bad: str,
        test: Test | None = None,
        *,
        metric: Callable[[Mapping[str, WeightTensor]], float] | None = None,
        threshold: float | None = None,
        bad_if: str = "above",
        check_ends: bool = True,
    ) -> BisectResult:
        return self._history.bisect(
            good,
            bad,
            test,
            metric=metric,
            threshold=threshold,
            bad_if=bad_if,
            check_ends=check_ends,
        )

    # --- merging ---

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

    @_doc(MergeRunner.merge)
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
        runner = MergeRunner(self.parts, self._history, self._workspace)
        return runner.merge(
            source_branch,
            strategy,
            message,
            merge_alpha,
            dry_run=dry_run,
            overrides=overrides,
            non_float=non_float,
            allow_unrelated=allow_unrelated,
            **params,
        )

    @_doc(preview_merge)
    def preview_merge(
        self, source: str, into: str, strategy: MergeStrategy | str = "average", **params: Any
    ) -> MergePlan:
        return preview_merge(self.parts, self._history, source, into, strategy, **params)

    # --- remotes ---

    @_doc(Transfers.add_remote)
    def add_remote(self, name: str, url: str) -> None:
        self._transfers.add_remote(name, url)

    @_doc(Transfers.remove_remote)
    def remove_remote(self, name: str) -> None:
        self._transfers.remove_remote(name)

    @_doc(Transfers.list_remotes)
    def list_remotes(self) -> dict[str, dict[str, Any]]:
        return self._transfers.list_remotes()

    @_doc(Transfers.push)
    def push(
        self,
        remote_name: str,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
        branch: str | None = None,
        *,
        show_progress: bool | None = None,
        jobs: int = 8,
        backend: Backend | None = None,
    ) -> PushResult:
        return self._transfers.push(
            remote_name,
            force,
            progress_callback,
            branch,
            show_progress=show_progress,
            jobs=jobs,
            backend=backend,
        )

    @_doc(Transfers.pull)
    def pull(
        self,
        remote_name: str,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
        *,
        show_progress: bool | None = None,
        jobs: int = 8,
        backend: Backend | None = None,
    ) -> PullResult:
        return self._transfers.pull(
            remote_name,
            force,
            progress_callback,
            show_progress=show_progress,
            jobs=jobs,
            backend=backend,
        )

    def incremental_push(self, remote_name: str, **options: Any) -> PushResult:
        """Another name for :meth:`push` (every push is incremental)."""
        return self._transfers.push(remote_name, **options)

    def incremental_pull(self, remote_name: str, **options: Any) -> PullResult:
        """Another name for :meth:`pull` (every pull is incremental)."""
        return self._transfers.pull(remote_name, **options)

    @_doc(Transfers.sync)
    def sync(
        self,
        remote_name: str,
        progress_callback: ProgressCallback | None = None,
        *,
        backend: Backend | None = None,
    ) -> SyncResult:
        return self._transfers.sync(remote_name, progress_callback, backend=backend)

    @_doc(Transfers.get_sync_status)
    def get_sync_status(self, remote_name: str, *, backend: Backend | None = None) -> SyncStatus:
        return self._transfers.get_sync_status(remote_name, backend=backend)

    @classmethod
    def clone(
        cls: type[R],
        url: str,
        path: str | Path,
        *,
        remote_name: str = "origin",
        progress_callback: ProgressCallback | None = None,
        show_progress: bool | None = None,
    ) -> R:
        """A complete copy of the repository at ``url`` in ``path``: every commit, branch,
        tag and tensor, with ``remote_name`` configured and the remote's default branch
        checked out.

        Raises:
            RemoteNotFoundError: (a ``FileNotFoundError``) nothing at ``url``: a folder or a
                bucket that does not exist. Nothing is left behind.
            RemoteError: ``path`` already holds a repository, or the transfer failed (the
                clone is removed, as git removes a failed clone).
        """
        target = prepare_clone(url, path)
        repo = cls(target.path, init=True)
        with target.removed_on_error(repo):
            repo.add_remote(remote_name, url)
            repo.pull(remote_name, progress_callback=progress_callback, show_progress=show_progress)
        return repo

    # --- model files and optimizer state ---

    @_doc(ModelFiles.stage_files)
    def stage_files(self, files: Mapping[str, bytes]) -> dict[str, str]:
        return self._files.stage_files(files)

    @_doc(ModelFiles.get_files)
    def get_files(self, ref: str | None = None) -> dict[str, bytes]:
        return self._files.get_files(ref)

    @_doc(ModelFiles.stage_optimizer_state)
    def stage_optimizer_state(self, optimizer: Any) -> dict[str, str]:
        return self._files.stage_optimizer_state(optimizer)

    @_doc(ModelFiles.load_optimizer_state)
    def load_optimizer_state(self, optimizer: Any, ref: str | None = None) -> None:
        self._files.load_optimizer_state(optimizer, ref)

    # --- maintenance ---

    @_doc(Maintenance.repack)
    def repack(self, max_depth: int | None = None) -> RepackResult:
        return self._maintenance.repack(max_depth)

    @_doc(Maintenance.gc)
    def gc(
        self,
        *,
        prune: str | float | timedelta | None = None,
        dry_run: bool = False,
        reflog_expire: str | float | timedelta | None = None,
    ) -> GcReport:
        return self._maintenance.gc(prune=prune, dry_run=dry_run, reflog_expire=reflog_expire)

    @_doc(Maintenance.fsck)
    def fsck(self, *, verify_objects: bool = True) -> FsckReport:
        return self._maintenance.fsck(verify_objects=verify_objects)

    @_doc(Maintenance.stats)
    def stats(self) -> StorageStats:
        return self._maintenance.stats()

    # --- lifetime ---

    def close(self) -> None:
        """Close open pack files (reopened on demand)."""
        self.store.close()

    def __enter__(self: R) -> R:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        head = self.parts.refs.head()
        where = head.branch or f"detached {str(head.commit_hash)[:8]}"
        place = str(self.parts.layout.root) if self.parts.layout else "in memory"
        return f"Repository({place!r}, {where})"
