"""What the record suites share: the factories a subclass gives, and small builders."""

from __future__ import annotations

from pathlib import Path

import pytest

from coral.records.backend import RecordBackend, RecordLock
from coral.records.commit import Commit, CommitMetadata
from coral.storage.locking import ThreadLock

H1, H2, H3 = "1" * 32, "2" * 32, "3" * 32
"""Commit hashes for records that only point at commits."""


class RecordSuite:
    """A record suite's factories: a new backend per test, and the lock records take.

    Tests that damage a record write the damage through the backend, bypassing the record
    class, as zarr's ``StoreTests`` sets keys without the store's own methods.
    """

    def make_backend(self, tmp_path: Path) -> RecordBackend:
        """A new, empty backend of the implementation under test."""
        raise NotImplementedError

    def make_lock(self, tmp_path: Path) -> RecordLock:
        """The lock the records take (a thread lock unless overridden)."""
        return ThreadLock(timeout=10.0)

    @pytest.fixture
    def backend(self, tmp_path: Path) -> RecordBackend:
        return self.make_backend(tmp_path)

    @pytest.fixture
    def lock(self, tmp_path: Path) -> RecordLock:
        return self.make_lock(tmp_path)


def make_commit(*parents: str, message: str = "m") -> Commit:
    """A commit of one weight, with a hash of its own."""
    metadata = CommitMetadata("Test", "test@example.com", message)
    return Commit.create(list(parents), {"w": "a" * 32}, metadata)
