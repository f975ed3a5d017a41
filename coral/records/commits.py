"""Commit files, ``objects/commits/<hash>.json``: written once, verified when read, cached."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path

from coral.errors import CorruptObjectError, RefNotFoundError
from coral.records.commit import (
    COMMIT_FORMAT,
    CONTENT_KEYS,
    Commit,
    hash_content,
    is_commit_hash,
)
from coral.storage import forksafe
from coral.storage.fsutil import atomic_write_json, fsync_dir, read_json

_SUFFIX = ".json"


class CommitStore:
    """Reads and writes commit files. Commits are immutable, so the cache never goes stale."""

    def __init__(self, commits_dir: Path, tmp_dir: Path) -> None:
        self.commits_dir = commits_dir
        self.tmp_dir = tmp_dir
        self._cache: dict[str, Commit] = {}
        self._lock = threading.Lock()
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def path(self, commit_hash: str) -> Path:
        return self.commits_dir / f"{commit_hash}{_SUFFIX}"

    def __contains__(self, commit_hash: object) -> bool:
        if not isinstance(commit_hash, str) or not is_commit_hash(commit_hash):
            return False
        return commit_hash in self._cache or self.path(commit_hash).exists()

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
            data = read_json(self.path(commit_hash))
        except FileNotFoundError:
            raise RefNotFoundError(f"commit {commit_hash} does not exist") from None
        except ValueError as err:
            raise CorruptObjectError(f"commit file {commit_hash} is not valid JSON: {err}") from err
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
            atomic_write_json(self.path(commit.commit_hash), commit.to_dict(), tmp_dir=self.tmp_dir)
        with self._lock:
            self._cache[commit.commit_hash] = commit.copy()

    def delete(self, commit_hashes: Iterable[str]) -> None:
        """Remove unreachable commits (gc only)."""
        for commit_hash in commit_hashes:
            self.path(commit_hash).unlink(missing_ok=True)
            with self._lock:
                self._cache.pop(commit_hash, None)
        fsync_dir(self.commits_dir)

    def all_hashes(self) -> list[str]:
        """Every commit hash on disk (unordered)."""
        try:
            names = os.listdir(self.commits_dir)
        except FileNotFoundError:
            return []
        return [
            n[: -len(_SUFFIX)]
            for n in names
            if n.endswith(_SUFFIX) and is_commit_hash(n[: -len(_SUFFIX)])
        ]

    def with_prefix(self, prefix: str) -> list[str]:
        return sorted(h for h in self.all_hashes() if h.startswith(prefix))
