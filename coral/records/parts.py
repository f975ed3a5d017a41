"""``RepositoryParts``: everything one repository is built from, in one value.

A repository is its records (refs with HEAD and reflogs, commits, tags, the staging area,
remote-tracking refs, configuration, remotes) over one :class:`RecordBackend`, and its object
store, guarded by one lock. Services (history, the workspace, merging, transfers,
maintenance) are constructed from these parts, as dulwich builds
``BaseRepo(object_store, refs)``: :func:`open_parts` opens them on disk, :func:`memory_parts`
builds a repository that lives in memory (dulwich's ``MemoryRepo``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from coral.delta.similarity import SimilarityIndex
from coral.errors import InvalidValueError
from coral.records.backend import DiskRecords, MemoryRecords, RecordBackend, RecordLock
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.records.document import JsonDocument
from coral.records.identity import resolve_identity
from coral.records.initial import create_records
from coral.records.keys import REMOTES
from coral.records.layout import RepoLayout
from coral.records.refs import RefStore
from coral.records.staging import StagingArea
from coral.records.store_setup import memory_store, open_store
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.locking import RepositoryLock, ThreadLock
from coral.storage.store import TensorStore


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class RepositoryParts:
    """The records and the object store of one repository.

    Attributes:
        layout: where an on-disk repository lives (``None`` for one in memory).
        records: the backend every record below is kept in.
        lock: serialises every read-modify-write of the records.
        staging: the shared staging area (HEAD's); a run holds one of its own.
        remotes: the ``remotes.json`` document (names, URLs, options).
        similarity: the index that finds delta bases for renamed weights.
        tmp_dir: where transfers and writers put files before they are published (for a
            repository in memory, a private directory removed with the parts).
        on_close: what :meth:`close` releases.
    """

    layout: RepoLayout | None
    records: RecordBackend
    config: Config
    lock: RecordLock
    store: TensorStore
    commits: CommitStore
    refs: RefStore
    versions: VersionStore
    staging: StagingArea
    tracking: TrackingRefs
    remotes: JsonDocument
    similarity: SimilarityIndex
    tmp_dir: Path
    on_close: Callable[[], None] = field(default=_nothing, repr=False, compare=False)

    def identity(self) -> tuple[str, str]:
        """(name, email) of whoever commits: environment, then config, then git's config."""
        return resolve_identity(
            self.config.get("user.name", None), self.config.get("user.email", None)
        )

    def who(self) -> str:
        """``"Name <email>"``, as the reflog records it."""
        name, email = self.identity()
        return f"{name} <{email}>"

    def staging_areas(self) -> dict[str, StagingArea]:
        """Every staging area by label: ``"staging"`` (the shared one, HEAD's) and, for each
        writer that keeps its own under ``staging/`` (a run), ``"staging <name>"``. What gc
        keeps and fsck checks."""
        areas = {"staging": self.staging}
        for key in self.records.list("staging"):
            if key != self.staging.key:
                name = key.removeprefix("staging/").removesuffix(".json")
                areas[f"staging {name}"] = StagingArea(self.records, self.lock, key)
        return areas

    def verify_reads(self) -> bool:
        """Whether every read re-hashes what it decoded (``core.verify_reads``)."""
        return bool(self.config.get("core.verify_reads"))

    def close(self) -> None:
        """Release what the parts hold for good: a repository in memory removes its
        ``tmp_dir`` (as it does when garbage collected). Idempotent; nothing on disk."""
        self.on_close()


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
    lock = RepositoryLock(layout.lock_file)
    return _assemble(
        DiskRecords(layout.coral_dir, layout.tmp_dir),
        lock,
        lambda config: open_store(layout, config, lock),
        layout=layout,
        similarity=SimilarityIndex(layout.coral_dir / "objects" / "similarity.jsonl"),
        tmp_dir=layout.tmp_dir,
    )


def memory_parts() -> RepositoryParts:
    """The parts of a new, empty repository that lives in memory: its records in a
    :class:`MemoryRecords`, its objects in a ``MemoryStore`` (with the delta encoding a
    repository on disk gets), a thread lock. Nothing is written to disk but transfers' temp
    files, in a private directory removed with the parts (or by ``parts.close()``)."""
    records = MemoryRecords()
    create_records(records)
    scratch = _ScratchDir()
    return _assemble(
        records,
        ThreadLock(),
        memory_store,
        layout=None,
        similarity=SimilarityIndex(None),
        tmp_dir=scratch.path,
        on_close=scratch.close,
    )


def _assemble(
    records: RecordBackend,
    lock: RecordLock,
    make_store: Callable[[Config], TensorStore],
    *,
    layout: RepoLayout | None,
    similarity: SimilarityIndex,
    tmp_dir: Path,
    on_close: Callable[[], None] = _nothing,
) -> RepositoryParts:
    config = Config(records, lock)
    lock.timeout = float(config.get("core.lock_timeout"))
    return RepositoryParts(
        layout=layout,
        records=records,
        config=config,
        lock=lock,
        store=make_store(config),
        commits=CommitStore(records),
        refs=RefStore(records, lock),
        versions=VersionStore(records, lock),
        staging=StagingArea(records, lock),
        tracking=TrackingRefs(records),
        remotes=JsonDocument(records, REMOTES, lock),
        similarity=similarity,
        tmp_dir=tmp_dir,
        on_close=on_close,
    )


class _ScratchDir:
    """A private temporary directory, removed by :meth:`close` or when garbage collected
    (or at exit), so a repository in memory leaves no files behind."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="coral-memory-"))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)

    def close(self) -> None:
        self._finalizer()
