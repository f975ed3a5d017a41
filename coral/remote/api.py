"""``Repository`` remote methods (section 10 of the chapter): ``add_remote``, ``push``,
``pull``, ``sync``, ``get_sync_status``, ``clone``... Thin: the work lives in
:mod:`coral.remote`, imported when a remote is first used (it sits a layer above this one,
and ``boto3`` is only needed for S3)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from coral.errors import NonFastForwardError
from coral.records.branch import BranchManager
from coral.records.commit import Commit
from coral.records.commits import CommitStore
from coral.records.layout import RepoLayout
from coral.records.refs import RefStore
from coral.records.staging import StagingArea
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.locking import RepositoryLock
from coral.storage.pack_store import PackStore
from coral.workspace.guards import writes_objects

if TYPE_CHECKING:
    from coral.remote.config import RemoteConfig
    from coral.remote.local import LocalSide
    from coral.remote.remote import Remote

ProgressCallback = Callable[[int, int, int, str], None]
R = TypeVar("R", bound="RemoteCommands")


class RemoteCommands:
    """The remote methods of :class:`~coral.version_control.Repository` (a mixin)."""

    store: PackStore
    _layout: RepoLayout
    _lock: RepositoryLock
    _commits: CommitStore
    _refs: RefStore
    branch_manager: BranchManager
    _versions: VersionStore
    _staging: StagingArea
    _tracking: TrackingRefs
    _who: Callable[[], str]
    close: Callable[[], None]

    # --- configuration ---

    def _remote_config(self) -> RemoteConfig:
        from coral.remote.config import RemoteConfig

        return RemoteConfig(self._layout.remotes_file, self._layout.tmp_dir, self._lock)

    def add_remote(self, name: str, url: str) -> None:
        """Add a remote: ``file:///path``, ``s3://bucket/prefix`` or
        ``minio://host[:port]/bucket/prefix`` (``?secure=false`` for plain HTTP). Options
        ``?region=`` and ``?profile=`` go to boto3; credentials never go in the URL."""
        self._remote_config().add(name, url)

    def remove_remote(self, name: str) -> None:
        """Forget a remote and its remote-tracking branches (nothing on the remote changes)."""
        self._remote_config().remove(name)
        self._tracking.drop_remote(name)

    def list_remotes(self) -> dict[str, dict[str, Any]]:
        """``{name: {"url": ..., "backend": "s3" | "minio" | "file", ...options}}``."""
        return self._remote_config().all()

    def _open_remote(self, name: str) -> Remote:
        from coral.remote.config import open_backend
        from coral.remote.remote import Remote

        url = self._remote_config().get(name)["url"]
        return Remote(name, url, open_backend(url))

    def _local_side(self) -> LocalSide:
        from coral.remote.local import LocalSide

        return LocalSide(
            store=self.store,
            commits=self._commits,
            refs=self._refs,
            branches=self.branch_manager,
            versions=self._versions,
            staging=self._staging,
            tracking=self._tracking,
            tmp_dir=self._layout.tmp_dir,
            who=self._who(),
        )

    # --- transfers ---

    def push(
        self,
        remote_name: str,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
        branch: str | None = None,
        *,
        show_progress: bool | None = None,
        jobs: int = 8,
    ) -> dict[str, Any]:
        """Upload what the remote lacks (objects as stored, deltas with their bases; commits;
        tags), then move each remote branch by compare-and-swap.

        Args:
            remote_name: a configured remote.
            force: move remote branches (and tags) even when that drops commits there.
            progress_callback: ``f(current, total, bytes_transferred, object_id)`` per object.
            branch: push only this branch (and the tags on it); default: every branch.
            show_progress: a tqdm bar (default: for transfers of 32 MiB or more).
            jobs: objects transferred in parallel.

        Returns:
            ``{"weights_pushed", "bytes_transferred", "skipped", "commits_pushed",
            "branches_updated", "tags_pushed", "rejected"}``.

        Raises:
            NonFastForwardError: a branch or tag was refused; the others were pushed
                (``err.result`` has the dict above).
            RemoteNotFoundError: the remote's bucket does not exist (a missing folder is
                created; a bucket is not).
        """
        from coral.remote.push import push

        with self._open_remote(remote_name) as remote:
            return push(
                self._local_side(),
                remote,
                force=force,
                branch=branch,
                progress_callback=progress_callback,
                show_progress=show_progress,
                jobs=jobs,
            )

    @writes_objects
    def pull(
        self,
        remote_name: str,
        force: bool = False,
        progress_callback: ProgressCallback | None = None,
        *,
        show_progress: bool | None = None,
        jobs: int = 8,
    ) -> dict[str, Any]:
        """Fetch the remote's commits, tensors (verified before they are installed) and tags,
        record its branches as ``<remote>/<branch>``, create the branches only it has and
        fast-forward the ones behind it. A branch that diverged is reported under
        ``"diverged"`` and left alone unless ``force`` (which resets it to the remote's).

        A remote branch or tag named like a local tag or branch (or a name the remote has as
        both) is reported under ``"rejected"`` and neither is taken: a name resolves one way.

        Returns:
            ``{"weights_pulled", "bytes_transferred", "skipped", "commits_pulled",
            "branches_updated", "branches_created", "diverged", "tags_pulled", "rejected"}``.

        Raises:
            RemoteNotFoundError: (a ``FileNotFoundError``) the remote's folder or bucket does
                not exist (an empty one is an empty remote: nothing to pull).
        """
        from coral.remote.pull import pull

        with self._open_remote(remote_name) as remote:
            return pull(
                self._local_side(),
                remote,
                force=force,
                progress_callback=progress_callback,
                show_progress=show_progress,
                jobs=jobs,
            )

    def incremental_push(self, remote_name: str, **options: Any) -> dict[str, Any]:
        """The chapter's name for :meth:`push` (every push is incremental)."""
        return self.push(remote_name, **options)

    def incremental_pull(self, remote_name: str, **options: Any) -> dict[str, Any]:
        """The chapter's name for :meth:`pull` (every pull is incremental)."""
        return self.pull(remote_name, **options)

    def sync(
        self, remote_name: str, progress_callback: ProgressCallback | None = None
    ) -> dict[str, Any]:
        """Pull, then push. Returns ``{"pull", "push", "total_pulled", "total_pushed",
        "is_synced"}``; a refused push (diverged branches) shows in ``push["rejected"]``."""
        pulled = self.pull(remote_name, progress_callback=progress_callback)
        try:
            pushed = self.push(remote_name, progress_callback=progress_callback)
        except NonFastForwardError as err:
            pushed = dict(err.result)
        status = self.get_sync_status(remote_name)
        return {
            "pull": pulled,
            "push": pushed,
            "total_pulled": pulled["weights_pulled"],
            "total_pushed": pushed.get("weights_pushed", 0),
            "is_synced": status["is_synced"],
        }

    def get_sync_status(self, remote_name: str) -> dict[str, Any]:
        """What a push and a pull would transfer, without transferring: ``needs_push`` and
        ``needs_pull`` (objects), ``is_synced``, ``commits_ahead``/``commits_behind`` and per
        branch ``{"local", "remote", "ahead", "behind"}``."""
        from coral.remote.status import sync_status

        with self._open_remote(remote_name) as remote:
            return sync_status(self._local_side(), remote)

    def _fetch_weight_commit(self, remote_name: str, ref: str, name: str) -> Commit:
        from coral.remote.status import fetch_commit_for_read

        with self._open_remote(remote_name) as remote:
            return fetch_commit_for_read(self._local_side(), remote, ref, name)

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
        checked out. A clone that fails leaves nothing behind.

        Raises:
            RemoteNotFoundError: (a ``FileNotFoundError``) no folder or bucket at ``url``.
        """
        from coral.errors import RemoteError
        from coral.remote.url import parse_remote_url

        parse_remote_url(url)  # a bad URL fails before anything is created
        target = Path(path)
        if (target / ".coral").exists():
            raise RemoteError(f"{target} already holds a Coral repository; clone elsewhere")
        created = _outermost_missing(target)
        repo = cls(target, init=True)  # type: ignore[call-arg]
        try:
            repo.add_remote(remote_name, url)
            repo.pull(remote_name, progress_callback=progress_callback, show_progress=show_progress)
        except BaseException:
            # As git does: a failed clone leaves nothing behind (only what it created).
            repo.close()
            shutil.rmtree(target / ".coral" if created is None else created, ignore_errors=True)
            raise
        return repo


def _outermost_missing(path: Path) -> Path | None:
    """The first folder on the way to ``path`` that does not exist yet (what creating it
    creates), or None when ``path`` exists."""
    missing = None
    path = path.absolute()
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing
