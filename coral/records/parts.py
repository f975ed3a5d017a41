"""``RepositoryParts``: everything one repository is built from, in one value.

A repository is its records (refs with HEAD and reflogs, commits, tags, the staging area,
remote-tracking refs, configuration) and its object store, guarded by one lock. Services
(history, the workspace, merging, transfers, maintenance) are constructed from these parts,
as dulwich builds ``BaseRepo(object_store, refs)``; :func:`open_parts` opens them on disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coral.delta.similarity import SimilarityIndex
from coral.errors import InvalidValueError
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.records.identity import resolve_identity
from coral.records.layout import RepoLayout
from coral.records.refs import RefStore
from coral.records.staging import StagingArea
from coral.records.store_setup import open_store
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.locking import RepositoryLock
from coral.storage.store import TensorStore


@dataclass(frozen=True)
class RepositoryParts:
    """The records and the object store of one repository.

    Attributes:
        layout: where an on-disk repository lives (``None`` for one in memory).
        lock: serialises every read-modify-write of the records.
        staging: the shared staging area (HEAD's); a run holds one of its own.
        similarity: the index that finds delta bases for renamed weights.
        tmp_dir: where transfers and writers put files before they are published.
    """

    layout: RepoLayout | None
    config: Config
    lock: RepositoryLock
    store: TensorStore
    commits: CommitStore
    refs: RefStore
    versions: VersionStore
    staging: StagingArea
    tracking: TrackingRefs
    similarity: SimilarityIndex
    tmp_dir: Path

    def identity(self) -> tuple[str, str]:
        """(name, email) of whoever commits: environment, then config, then git's config."""
        return resolve_identity(
            self.config.get("user.name", None), self.config.get("user.email", None)
        )

    def who(self) -> str:
        """``"Name <email>"``, as the reflog records it."""
        name, email = self.identity()
        return f"{name} <{email}>"

    def verify_reads(self) -> bool:
        """Whether every read re-hashes what it decoded (``core.verify_reads``)."""
        return bool(self.config.get("core.verify_reads"))


def open_parts(path: str | os.PathLike[str], *, init: bool = False) -> RepositoryParts:
    """The parts of the repository at or above ``path`` (created first with ``init``).

    Raises:
        NotARepositoryError: (a ``FileNotFoundError``) no repository at or above ``path``.
        InvalidValueError: ``path`` is a file.
    """
    where = Path(path)
    if where.exists() and not where.is_dir():
        raise InvalidValueError(f"{where} is a file; a repository path must be a directory")
    if init:
        where.mkdir(parents=True, exist_ok=True)
        layout = RepoLayout(where.resolve())
        layout.create()
    else:
        layout = RepoLayout.find(where)
    layout.ensure_dirs()
    tmp = layout.tmp_dir
    lock = RepositoryLock(layout.lock_file)
    config = Config(layout.config_file, lock, tmp)
    lock.timeout = float(config.get("core.lock_timeout"))
    return RepositoryParts(
        layout=layout,
        config=config,
        lock=lock,
        store=open_store(layout, config, lock),
        commits=CommitStore(layout.commits_dir, tmp),
        refs=RefStore(layout.coral_dir, tmp, lock),
        versions=VersionStore(layout.versions_dir, tmp, lock),
        staging=StagingArea(layout.staging_file, tmp, lock),
        tracking=TrackingRefs(layout.coral_dir, tmp),
        similarity=SimilarityIndex(layout.coral_dir / "objects" / "similarity.jsonl"),
        tmp_dir=tmp,
    )
