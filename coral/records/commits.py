"""Commit records, ``objects/commits/<hash>.json``: written once, verified when read, cached."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from coral.errors import CorruptObjectError, RefNotFoundError
from coral.records.backend import RecordBackend
from coral.records.commit import (
    COMMIT_FORMAT,
    CONTENT_KEYS,
    Commit,
    hash_content,
    is_commit_hash,
)
from coral.records.keys import COMMITS
from coral.storage import forksafe
from coral.storage.fsutil import dumps_json, loads_json

_SUFFIX = ".json"


class CommitStore:
    """Reads and writes commit records. Commits are immutable, so the cache never goes stale."""

    def __init__(self, records: RecordBackend) -> None:
        self.records = records
        self._cache: dict[str, Commit] = {}
        self._lock = threading.Lock()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    @staticmethod
    def _key(commit_hash: str) -> str:
        return f"{COMMITS}/{commit_hash}{_SUFFIX}"

    def __contains__(self, commit_hash: object) -> bool:
        if not isinstance(commit_hash, str) or not is_commit_hash(commit_hash):
            return False
        return commit_hash in self._cache or self.records.stat(self._key(commit_hash)) is not None

    def modified(self, commit_hash: str) -> float | None:
        """When the commit was stored (seconds since the epoch; None if it is not): gc keeps
        unreferenced commits younger than its grace period."""
        stat = self.records.stat(self._key(commit_hash))
        return None if stat is None else stat.mtime_ns / 1e9

    def get(self, commit_hash: str) -> Commit:
        """The commit with this full hash; raises :class:`RefNotFoundError` or
        :class:`CorruptObjectError` (content does not match its hash).

        Returns a copy: ``Commit`` is a plain dataclass, and a caller that edits the one it got
        must not change what everybody else reads from the cache.
        """
        cached = self._cache.get(commit_hash)
        if cached is not None:
            return cached.copy()
        if not is_commit_hash(commit_hash):
            raise RefNotFoundError(f"{commit_hash!r} is not a commit hash")
        try:
            raw = self.records.read(self._key(commit_hash))
            data = None if raw is None else loads_json(raw)
        except ValueError as err:
            raise CorruptObjectError(f"commit file {commit_hash} is not valid JSON: {err}") from err
        if raw is None:
            raise RefNotFoundError(f"commit {commit_hash} does not exist")
        commit = self._parse(commit_hash, data)
        with self._lock:
            self._cache[commit_hash] = commit
        return commit.copy()

    @staticmethod
    def _parse(commit_hash: str, data: object) -> Commit:
        try:
            if not isinstance(data, dict) or data.get("format") != COMMIT_FORMAT:
                raise ValueError("unsupported commit format")
            # Hash the file's own content (what was hashed when it was written) rather than
            # re-serialising the parsed objects: the same check, without the cost.
            actual = hash_content({key: data[key] for key in CONTENT_KEYS})
            commit = Commit.from_dict(data)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CorruptObjectError(f"commit file {commit_hash} is malformed: {err}") from err
        if actual != commit_hash or commit.commit_hash != commit_hash:
            raise CorruptObjectError(
                f"commit {commit_hash} is corrupt: its content hashes to {actual}"
            )
        return commit

    def put(self, commit: Commit) -> None:
        """Write a commit durably (a no-op when it already exists)."""
        if commit.commit_hash not in self:
            self.records.write(self._key(commit.commit_hash), dumps_json(commit.to_dict()))
        with self._lock:
            self._cache[commit.commit_hash] = commit.copy()

    def delete(self, commit_hashes: Iterable[str]) -> None:
        """Remove unreachable commits (gc only)."""
        hashes = list(commit_hashes)
        self.records.delete_many(self._key(h) for h in hashes)
        with self._lock:
            for commit_hash in hashes:
                self._cache.pop(commit_hash, None)

    def all_hashes(self) -> list[str]:
        """Every stored commit hash (sorted)."""
        start, end = len(COMMITS) + 1, -len(_SUFFIX)
        return [
            key[start:end]
            for key in self.records.list(COMMITS)
            if key.endswith(_SUFFIX) and is_commit_hash(key[start:end])
        ]

    def with_prefix(self, prefix: str) -> list[str]:
        return sorted(h for h in self.all_hashes() if h.startswith(prefix))
