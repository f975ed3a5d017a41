"""``Transfers``: a repository's remotes, pushes, pulls and syncs, over its parts. The work
lives in :mod:`coral.remote.push`, :mod:`coral.remote.pull` and :mod:`coral.remote.status`;
``boto3`` is imported only when an S3 remote is used."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coral.errors import InvalidValueError, NonFastForwardError
from coral.records.branch import BranchManager
from coral.records.commit import Commit
from coral.records.parts import RepositoryParts
from coral.storage.store import TensorStore
from coral.workspace.guards import writes_objects

if TYPE_CHECKING:
    from coral.remote.config import RemoteConfig
    from coral.remote.local import LocalSide
    from coral.remote.remote import Remote

ProgressCallback = Callable[[int, int, int, str], None]


class Transfers:
    """Remote configuration and transfers of one repository."""

    def __init__(self, parts: RepositoryParts, branches: BranchManager) -> None:
        self._parts = parts
        self._branches = branches

    @property
    def store(self) -> TensorStore:
        return self._parts.store

    def _remotes_file(self) -> Path:
        layout = self._parts.layout
        if layout is None:
            raise InvalidValueError("a repository in memory keeps no remotes")
        return layout.remotes_file

    # --- configuration ---

    def _remote_config(self) -> RemoteConfig:
        from coral.remote.config import RemoteConfig

        return RemoteConfig(self._remotes_file(), self._parts.tmp_dir, self._parts.lock)

    def add_remote(self, name: str, url: str) -> None:
        """Add a remote: ``file:///path``, ``s3://bucket/prefix`` or
        ``minio://host[:port]/bucket/prefix`` (``?secure=false`` for plain HTTP). Options
        ``?region=`` and ``?profile=`` go to boto3; credentials never go in the URL."""
        self._remote_config().add(name, url)

    def remove_remote(self, name: str) -> None:
        """Forget a remote and its remote-tracking branches (nothing on the remote changes)."""
        self._remote_config().remove(name)
        self._parts.tracking.drop_remote(name)

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
            store=self._parts.store,
            commits=self._parts.commits,
            refs=self._parts.refs,
            branches=self._branches,
            versions=self._parts.versions,
            staging=self._parts.staging,
            tracking=self._parts.tracking,
            tmp_dir=self._parts.tmp_dir,
            who=self._parts.who(),
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

    def fetch_weight_commit(self, remote_name: str, ref: str, name: str) -> Commit:
        from coral.remote.status import fetch_commit_for_read

        with self._open_remote(remote_name) as remote:
            return fetch_commit_for_read(self._local_side(), remote, ref, name)
