"""Remotes: push, pull, clone and sync a repository through storage a team already has
(S3, MinIO or any S3-compatible store, a folder). Used through ``Repository.add_remote``,
``push``, ``pull``, ``sync``, ``get_sync_status`` and ``clone``; see the README's "Remotes".

Below the facade, a transfer is a function of a :class:`LocalSide` (the repository's parts)
and a :class:`~coral.remote.remote.Remote` (a name, a URL and a backend):
:func:`coral.remote.push.push`, :func:`coral.remote.pull.pull`,
:func:`coral.remote.status.sync` and :func:`coral.remote.status.sync_status`.
:func:`open_remote` opens the backend a URL names through the scheme table in
:mod:`coral.remote.url`, or takes one handed in, such as a :class:`MemoryBackend` in tests.
``boto3`` (the ``s3`` extra) is imported only when an S3 backend is made.
"""

from coral.remote.local import LocalSide
from coral.remote.memory import MemoryBackend
from coral.remote.remote import Remote, open_remote
from coral.remote.results import (
    BranchSync,
    PullResult,
    PushResult,
    SyncResult,
    SyncStatus,
    TransferResult,
)

__all__ = [
    "BranchSync",
    "LocalSide",
    "MemoryBackend",
    "PullResult",
    "PushResult",
    "Remote",
    "SyncResult",
    "SyncStatus",
    "TransferResult",
    "open_remote",
]
