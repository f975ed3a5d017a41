"""``BackendTests``: the contract every remote :class:`~coral.remote.backend.Backend` keeps
(blobs, size caps, files in parts, compare-and-swap under racing writers, listing, deletion).

Subclass it once per backend and give it :meth:`BackendTests.make_backend`, or override the
``backend`` fixture where the backend needs other fixtures (an S3 endpoint)::

    class TestMemoryBackend(BackendTests):
        def make_backend(self, tmp_path):
            return MemoryBackend()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from coral.errors import RemoteError
from coral.remote.backend import Backend, PreconditionFailed, RemoteKeyNotFound

__all__ = ["BackendTests"]


class BackendTests:
    """What push, pull and sync rely on from any place a remote's keys live."""

    def make_backend(self, tmp_path: Path) -> Backend:
        """A new, empty backend of the implementation under test."""
        raise NotImplementedError

    def with_small_parts(self, backend: Backend) -> Backend:
        """The backend set to move big files in several parts (where it has parts)."""
        return backend

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        backend = self.make_backend(tmp_path)
        yield backend
        backend.close()

    def test_put_get_exists(self, backend: Backend) -> None:
        assert not backend.exists("objects/ab/x")
        backend.put("objects/ab/x", b"hello")
        assert backend.exists("objects/ab/x")
        assert backend.get("objects/ab/x", 100).data == b"hello"
        backend.put("objects/ab/x", b"again")  # immutable keys are re-put with the same bytes
        assert backend.get("objects/ab/x", 100).data == b"again"
        with pytest.raises(RemoteKeyNotFound):
            backend.get("objects/ab/missing", 100)

    def test_size_caps_are_checked_before_reading(self, backend: Backend, tmp_path: Path) -> None:
        backend.put("big", b"x" * 1000)
        with pytest.raises(RemoteError, match="larger than"):
            backend.get("big", 999)
        with pytest.raises(RemoteError, match="larger than"):
            backend.get_to_file("big", tmp_path / "out", 999)
        assert backend.get_to_file("big", tmp_path / "out", 1000) == 1000
        assert (tmp_path / "out").read_bytes() == b"x" * 1000

    def test_files_round_trip_in_parts(self, backend: Backend, tmp_path: Path) -> None:
        backend = self.with_small_parts(backend)
        data = bytes(range(256)) * (80 << 10)  # 20 MiB: four 5 MiB parts up and down on S3
        source = tmp_path / "source"
        source.write_bytes(data)
        backend.put_file("objects/cd/big", source)
        assert backend.get_to_file("objects/cd/big", tmp_path / "back", len(data)) == len(data)
        assert (tmp_path / "back").read_bytes() == data

    def test_compare_and_swap(self, backend: Backend) -> None:
        first = backend.put_if("refs/heads/main", b"1", etag=None)
        with pytest.raises(PreconditionFailed):
            backend.put_if("refs/heads/main", b"2", etag=None)  # exists already
        with pytest.raises(PreconditionFailed):
            backend.put_if("refs/heads/main", b"2", etag="not-the-etag")
        blob = backend.get("refs/heads/main", 100)
        assert blob.etag == first and blob.data == b"1"
        second = backend.put_if("refs/heads/main", b"2", etag=first)
        with pytest.raises(PreconditionFailed):
            backend.put_if("refs/heads/main", b"3", etag=first)  # stale
        with pytest.raises(PreconditionFailed):
            backend.delete_if("refs/heads/main", etag=first)
        backend.delete_if("refs/heads/main", etag=second)
        assert not backend.exists("refs/heads/main")

    def test_only_one_of_racing_writers_wins(self, backend: Backend) -> None:
        start = backend.put_if("refs/heads/race", b"0", etag=None)
        wins: list[int] = []
        barrier = threading.Barrier(6)

        def writer(n: int) -> None:
            barrier.wait()
            try:
                backend.put_if("refs/heads/race", str(n).encode(), etag=start)
                wins.append(n)
            except PreconditionFailed:
                pass

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1
        assert backend.get("refs/heads/race", 10).data == str(wins[0]).encode()

    def test_list_by_prefix(self, backend: Backend) -> None:
        for key in ["refs/heads/main", "refs/heads/team/exp", "tags/v1.json", "objects/ab/cd"]:
            backend.put(key, b"{}")
        assert sorted(backend.list("refs/heads/")) == ["refs/heads/main", "refs/heads/team/exp"]
        assert sorted(backend.list("")) == sorted(
            ["objects/ab/cd", "refs/heads/main", "refs/heads/team/exp", "tags/v1.json"]
        )
        assert list(backend.list("nothing/")) == []

    def test_conditional_writes_on_a_missing_key_fail_as_preconditions(
        self, backend: Backend
    ) -> None:
        with pytest.raises(PreconditionFailed):
            backend.put_if("refs/heads/gone", b"1", etag="an-old-etag")
        with pytest.raises(PreconditionFailed):
            backend.delete_if("refs/heads/gone", etag="an-old-etag")

    def test_a_key_can_replace_a_deleted_folder_of_keys(self, backend: Backend) -> None:
        etag = backend.put_if("refs/heads/feature/x", b"1", etag=None)
        backend.delete_if("refs/heads/feature/x", etag=etag)
        backend.put_if("refs/heads/feature", b"2", etag=None)  # no folder left in the way
        assert backend.get("refs/heads/feature", 10).data == b"2"

    def test_delete_is_idempotent(self, backend: Backend) -> None:
        backend.put("objects/ab/gone", b"x")
        backend.delete("objects/ab/gone")
        assert not backend.exists("objects/ab/gone")
        backend.delete("objects/ab/gone")  # again: nothing to do, no error
        backend.delete("never/there")
