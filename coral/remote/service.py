"""``Transfers``: a repository's remotes, pushes, pulls and syncs, over its parts. The work
lives in :mod:`coral.remote.push`, :mod:`coral.remote.pull` and :mod:`coral.remote.status`;
``boto3`` is imported only when an S3 backend is opened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coral.records.branch import BranchManager
from coral.records.commit import Commit
from coral.records.parts import RepositoryParts
from coral.remote.backend import Backend
from coral.remote.config import RemoteConfig
from coral.remote.local import LocalSide
from coral.remote.pull import pull
from coral.remote.push import push
from coral.remote.remote import Remote, open_remote
from coral.remote.results import PullResult, PushResult, SyncResult, SyncStatus
from coral.remote.status import fetch_commit_for_read, sync, sync_status

ProgressCallback = Callable[[int, int, int, str], None]


class Transfers:
    """Remote configuration and transfers of one repository."""

    def __init__(self, parts: RepositoryParts, branches: BranchManager) -> None:
        self._parts = parts
        self._branches = branches

    # --- configuration ---

    def _remote_config(self) -> RemoteConfig:
        return RemoteConfig(self._parts.remotes)

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

    def _open(self, name: str, backend: Backend | None) -> Remote:
        """The remote ``name`` (configured), or ``backend`` handed in under that name."""
        if backend is not None:
            return open_remote(name, f"<{type(backend).__name__}>", backend)
        return open_remote(name, self._remote_config().get(name)["url"])

    def _local(self) -> LocalSide:
        return LocalSide.from_parts(self._parts, self._branches)

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
        backend: Backend | None = None,
    ) -> PushResult:
        """Upload what the remote lacks (objects as stored, deltas with their bases; commits;
        tags), then move each remote branch by compare-and-swap.

        Args:
            remote_name: a configured remote.
            force: move remote branches (and tags) even when that drops commits there.
            progress_callback: ``f(current, total, bytes_transferred, object_id)`` per object.
            branch: push only this branch (and the tags on it); default: every branch.
            show_progress: a tqdm bar (default: for transfers of 32 MiB or more).
            jobs: objects transferred in parallel.
            backend: push to this backend instead of the configured remote's (a
                :class:`~coral.remote.memory.MemoryBackend` in tests); ``remote_name`` then
                only names the tracking refs.

        Returns:
            A :class:`PushResult`, also a mapping: ``"weights_pushed"``,
            ``"bytes_transferred"``, ``"skipped"``, ``"commits_pushed"``,
            ``"branches_updated"``, ``"tags_pushed"``, ``"rejected"``.

        Raises:
            NonFastForwardError: a branch or tag was refused; the others were pushed
                (``err.result`` is the :class:`PushResult`).
            RemoteNotFoundError: the remote's bucket does not exist (a missing folder is
                created; a bucket is not).
        """
        with self._open(remote_name, backend) as remote:
            return push(
                self._local(),
                remote,
                force=force,
                branch=branch,
                progress_callback=progress_callback,
                show_progress=show_progress,
                jobs=jobs,
            )

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
        """Fetch the remote's commits, tensors (verified before they are installed) and tags,
        record its branches as ``<remote>/<branch>``, create the branches only it has and
        fast-forward the ones behind it. A branch that diverged is reported under
        ``"diverged"`` and left alone unless ``force`` (which resets it to the remote's).

        A remote branch or tag named like a local tag or branch (or a name the remote has as
        both) is reported under ``"rejected"`` and neither is taken: a name resolves one way.
        ``backend`` pulls from a backend handed in, as for :meth:`push`.

        Returns:
            A :class:`PullResult`, also a mapping: ``"weights_pulled"``,
            ``"bytes_transferred"``, ``"skipped"``, ``"commits_pulled"``,
            ``"branches_updated"``, ``"branches_created"``, ``"diverged"``, ``"tags_pulled"``,
            ``"rejected"``.

        Raises:
            RemoteNotFoundError: (a ``FileNotFoundError``) the remote's folder or bucket does
                not exist (an empty one is an empty remote: nothing to pull).
        """
        with self._open(remote_name, backend) as remote:
            return pull(
                self._local(),
                remote,
                force=force,
                progress_callback=progress_callback,
                show_progress=show_progress,
                jobs=jobs,
            )

    def sync(
        self,
        remote_name: str,
        progress_callback: ProgressCallback | None = None,
        *,
        backend: Backend | None = None,
    ) -> SyncResult:
        """Pull, then push. Returns a :class:`SyncResult` (also a mapping: ``"pull"``,
        ``"push"``, ``"total_pulled"``, ``"total_pushed"``, ``"is_synced"``); a refused push
        (diverged branches) shows in ``push["rejected"]``."""
        with self._open(remote_name, backend) as remote:
            return sync(self._local(), remote, progress_callback=progress_callback)

    def get_sync_status(self, remote_name: str, *, backend: Backend | None = None) -> SyncStatus:
        """What a push and a pull would transfer, without transferring: ``needs_push`` and
        ``needs_pull`` (objects), ``is_synced``, ``commits_ahead``/``commits_behind`` and per
        branch ``{"local", "remote", "ahead", "behind"}`` (a :class:`SyncStatus`, also a
        mapping)."""
        with self._open(remote_name, backend) as remote:
            return sync_status(self._local(), remote)

    def fetch_weight_commit(self, remote_name: str, ref: str, name: str) -> Commit:
        """The commit ``ref`` names on the remote, with ``name``'s objects fetched."""
        with self._open(remote_name, None) as remote:
            return fetch_commit_for_read(self._local(), remote, ref, name)
