"""``RecordBackendTests``: the contract of every :class:`~coral.records.backend.RecordBackend`."""

from __future__ import annotations

import threading
import time

import pytest

from coral.errors import ConcurrentUpdateError, RefExistsError
from coral.records.backend import KeyClashError, RecordBackend
from coral.testing._base import RecordSuite

__all__ = ["RecordBackendTests"]


class RecordBackendTests(RecordSuite):
    """Reads, atomic writes, compare-and-swap, appends, listing, deletion and git's D/F rule."""

    def test_a_missing_record_reads_as_none(self, backend: RecordBackend) -> None:
        assert backend.read("refs/heads/main") is None
        assert backend.stat("refs/heads/main") is None
        assert backend.list("refs/heads") == []

    def test_a_write_replaces_the_whole_record(self, backend: RecordBackend) -> None:
        backend.write("refs/heads/main", b"first, and longer")
        backend.write("refs/heads/main", b"second")
        assert backend.read("refs/heads/main") == b"second"
        stat = backend.stat("refs/heads/main")
        assert stat is not None and stat.size == len(b"second")

    def test_reads_are_bounded(self, backend: RecordBackend) -> None:
        backend.write("HEAD", b"x" * 5000)
        with pytest.raises(ValueError, match="larger than 4096 bytes"):
            backend.read("HEAD", max_bytes=4096)
        assert backend.read("HEAD", max_bytes=5000) == b"x" * 5000
        assert backend.read("HEAD", max_bytes=None) == b"x" * 5000

    def test_compare_and_swap_refuses_a_changed_record(self, backend: RecordBackend) -> None:
        backend.write_if("refs/heads/main", b"one", expected=None)
        with pytest.raises(ConcurrentUpdateError):
            backend.write_if("refs/heads/main", b"two", expected=None)
        with pytest.raises(ConcurrentUpdateError):
            backend.write_if("refs/heads/main", b"two", expected=b"stale")
        assert backend.read("refs/heads/main") == b"one"
        backend.write_if("refs/heads/main", b"two", expected=b"one")
        assert backend.read("refs/heads/main") == b"two"

    def test_appends_accumulate_in_order(self, backend: RecordBackend) -> None:
        for n in range(3):
            backend.append("logs/HEAD", f"line {n}\n".encode())
        assert backend.read("logs/HEAD", max_bytes=None) == b"line 0\nline 1\nline 2\n"

    def test_appends_from_threads_are_all_kept(self, backend: RecordBackend) -> None:
        def append(n: int) -> None:
            for i in range(50):
                backend.append("logs/HEAD", f"{n}:{i}\n".encode())

        threads = [threading.Thread(target=append, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        lines = (backend.read("logs/HEAD", max_bytes=None) or b"").splitlines()
        assert sorted(lines) == sorted(f"{n}:{i}".encode() for n in range(4) for i in range(50))

    def test_listing_is_sorted_recursive_and_stays_in_its_folder(
        self, backend: RecordBackend
    ) -> None:
        for key in ["refs/heads/b", "refs/heads/a/z", "refs/heads/a/y/x", "refs/headsx"]:
            backend.write(key, b"{}")
        backend.write("refs/remotes/origin/main", b"{}")
        assert backend.list("refs/heads") == ["refs/heads/a/y/x", "refs/heads/a/z", "refs/heads/b"]
        assert backend.list("refs/heads/a") == ["refs/heads/a/y/x", "refs/heads/a/z"]
        assert backend.list("refs/heads/b") == []  # a record is not a folder
        assert backend.list("refs") == [
            "refs/heads/a/y/x",
            "refs/heads/a/z",
            "refs/heads/b",
            "refs/headsx",
            "refs/remotes/origin/main",
        ]

    def test_a_key_cannot_be_both_a_record_and_a_folder(self, backend: RecordBackend) -> None:
        backend.write("refs/heads/feature/x", b"{}")
        with pytest.raises(KeyClashError):
            backend.write("refs/heads/feature", b"{}")
        with pytest.raises(RefExistsError):  # KeyClashError is one
            backend.write_if("refs/heads/feature", b"{}", expected=None)
        backend.write("refs/heads/solo", b"{}")
        with pytest.raises(KeyClashError):
            backend.write("refs/heads/solo/child", b"{}")
        with pytest.raises(KeyClashError):
            backend.append("refs/heads/solo/child", b"line\n")
        assert backend.read("refs/heads/feature") is None  # a folder reads as no record
        assert backend.stat("refs/heads/feature") is None

    def test_deleting_the_last_record_of_a_folder_frees_its_name(
        self, backend: RecordBackend
    ) -> None:
        backend.write("refs/heads/feature/deep/x", b"{}")
        assert backend.delete("refs/heads/feature/deep/x") is True
        assert backend.delete("refs/heads/feature/deep/x") is False
        assert backend.list("refs/heads") == []
        backend.write("refs/heads/feature", b"{}")
        assert backend.read("refs/heads/feature") == b"{}"

    def test_delete_many_removes_exactly_those(self, backend: RecordBackend) -> None:
        keys = [f"objects/commits/{n}.json" for n in range(5)]
        for key in keys:
            backend.write(key, b"{}")
        backend.delete_many([keys[1], keys[3], "objects/commits/missing.json"])
        assert backend.list("objects/commits") == [keys[0], keys[2], keys[4]]

    def test_the_change_stamp_moves_on_every_write(self, backend: RecordBackend) -> None:
        backend.write("versions/a.json", b"same size")
        before = backend.stat("versions/a.json")
        time.sleep(0.01)  # a disk's mtime moves with the kernel's clock tick
        backend.write("versions/a.json", b"SAME SIZE")
        assert backend.stat("versions/a.json") != before

    @pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "refs/.hidden", "a/"])
    def test_keys_no_record_class_makes_are_refused(self, backend: RecordBackend, key: str) -> None:
        with pytest.raises(ValueError, match="not a record key"):
            backend.write(key, b"x")
        with pytest.raises(ValueError, match="not a record key"):
            backend.read(key)

    def test_describe_names_the_key(self, backend: RecordBackend) -> None:
        assert "refs/heads/main" in backend.describe("refs/heads/main").replace("\\", "/")

    def test_an_appender_adds_lines_and_a_rewrite_starts_afresh(
        self, backend: RecordBackend
    ) -> None:
        appender = backend.appender("runs/r.journal")
        appender.write(b"one\n")
        appender.write(b"two\n")
        appender.sync()
        assert backend.read("runs/r.journal", max_bytes=None) == b"one\ntwo\n"
        appender.close()
        backend.write("runs/r.journal", b"two\n")  # a rewrite replaces the record
        again = backend.appender("runs/r.journal")
        again.write(b"three\n")
        again.close()
        assert backend.read("runs/r.journal", max_bytes=None) == b"two\nthree\n"
        with pytest.raises(KeyClashError):
            backend.appender("runs/r.journal/x").write(b"below a record\n")
