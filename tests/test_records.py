"""The record conformance suites (:mod:`coral.testing.records`), run once on disk and once in
memory; what only the disk can show (its files, byte for byte); and repositories in memory."""

from __future__ import annotations

import gc
import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from coral.delta.similarity import SimilarityIndex
from coral.errors import InvalidValueError, LockTimeoutError
from coral.records.backend import DiskRecords, MemoryRecords, RecordBackend, RecordLock
from coral.records.parts import memory_parts
from coral.records.refs import Branch
from coral.repository import Repository
from coral.storage.locking import RepositoryLock, ThreadLock
from coral.storage.memory_store import MemoryStore
from coral.testing.records import (
    CommitStoreTests,
    ConfigTests,
    JsonDocumentTests,
    RecordBackendTests,
    RefStoreTests,
    StagingAreaTests,
    TrackingRefsTests,
    VersionStoreTests,
)


class OnDisk:
    """Records in a ``.coral`` folder, guarded by the repository's file lock."""

    def make_backend(self, tmp_path: Path) -> RecordBackend:
        (tmp_path / ".coral" / "tmp").mkdir(parents=True)
        return DiskRecords(tmp_path / ".coral", tmp_path / ".coral" / "tmp")

    def make_lock(self, tmp_path: Path) -> RecordLock:
        return RepositoryLock(tmp_path / "lock", timeout=10.0)


class InMemory:
    """Records in a dict."""

    def make_backend(self, tmp_path: Path) -> RecordBackend:
        return MemoryRecords()


class TestDiskRecords(OnDisk, RecordBackendTests):
    pass


class TestMemoryRecords(InMemory, RecordBackendTests):
    pass


class TestDiskRefs(OnDisk, RefStoreTests):
    pass


class TestMemoryRefs(InMemory, RefStoreTests):
    pass


class TestDiskCommits(OnDisk, CommitStoreTests):
    pass


class TestMemoryCommits(InMemory, CommitStoreTests):
    pass


class TestDiskVersions(OnDisk, VersionStoreTests):
    pass


class TestMemoryVersions(InMemory, VersionStoreTests):
    pass


class TestDiskStaging(OnDisk, StagingAreaTests):
    pass


class TestMemoryStaging(InMemory, StagingAreaTests):
    pass


class TestDiskTracking(OnDisk, TrackingRefsTests):
    pass


class TestMemoryTracking(InMemory, TrackingRefsTests):
    pass


class TestDiskConfig(OnDisk, ConfigTests):
    pass


class TestMemoryConfig(InMemory, ConfigTests):
    pass


class TestDiskDocuments(OnDisk, JsonDocumentTests):
    pass


class TestMemoryDocuments(InMemory, JsonDocumentTests):
    pass


# --- what only the disk shows ---


def test_disk_records_are_the_files_under_coral(tmp_path: Path) -> None:
    records = OnDisk().make_backend(tmp_path)
    records.write("refs/heads/feature/x", b"{}\n")
    records.append("logs/HEAD", b"line\n")
    coral = tmp_path / ".coral"
    assert (coral / "refs" / "heads" / "feature" / "x").read_bytes() == b"{}\n"
    assert (coral / "logs" / "HEAD").read_bytes() == b"line\n"
    assert records.describe("refs/heads/main") == str(coral / "refs" / "heads" / "main")
    assert os.listdir(coral / "tmp") == []  # temp files were renamed into place


def test_temp_files_of_interrupted_writes_are_not_records(tmp_path: Path) -> None:
    records = OnDisk().make_backend(tmp_path)
    records.write("refs/heads/main", b"{}")
    (tmp_path / ".coral" / "refs" / "heads" / ".main.0123.tmp").write_bytes(b"half")
    assert records.list("refs/heads") == ["refs/heads/main"]


def test_deleting_a_record_keeps_the_folders_a_repository_always_has(tmp_path: Path) -> None:
    records = OnDisk().make_backend(tmp_path)
    records.write("refs/heads/a/b", b"{}")
    records.write("logs/refs/heads/a/b", b"line\n")
    records.delete("refs/heads/a/b")
    records.delete("logs/refs/heads/a/b")
    coral = tmp_path / ".coral"
    assert (coral / "refs" / "heads").is_dir() and not (coral / "refs" / "heads" / "a").exists()
    assert (coral / "logs").is_dir() and not (coral / "logs" / "refs").exists()


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "lock" and "packs" not in p.parts
    }


def test_the_disk_layout_is_unchanged(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(3, np.float32)})
    commit = repo.commit("one")
    repo.create_branch("feature/x")
    repo.tag_version("v1", "first", {"acc": 0.5})
    repo.config.set("user.name", "Jane")
    coral = repo.coral_dir
    assert (coral / "HEAD").read_bytes() == b"ref: refs/heads/main"
    assert json.loads((coral / "refs" / "heads" / "feature" / "x").read_text()) == {
        "name": "feature/x",
        "commit_hash": commit.commit_hash,
        "parent_branch": "main",
    }
    commit_file = coral / "objects" / "commits" / f"{commit.commit_hash}.json"
    assert (
        commit_file.read_bytes()
        == (
            json.dumps(commit.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        ).encode()
    )
    assert json.loads((coral / "remotes.json").read_text()) == {}
    assert json.loads((coral / "config.json").read_text())["user"] == {"name": "Jane"}
    (tag_file,) = (coral / "versions").iterdir()
    assert json.loads(tag_file.read_text())["name"] == "v1"
    assert json.loads((coral / "staging" / "staged.json").read_text())["weights"] == {}
    head_log = (coral / "logs" / "HEAD").read_text().splitlines()
    assert [json.loads(line)["new"] for line in head_log] == [commit.commit_hash]
    assert (coral / "logs" / "refs" / "heads" / "feature" / "x").is_file()


def test_a_repository_reopened_reads_identically(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(3, np.float32)})
    repo.commit("one")
    repo.create_branch("dev")
    repo.tag_version("v1")
    before = _tree(repo.coral_dir)
    again = Repository(repo.path)
    assert [b.name for b in again.branch_manager.list_branches()] == ["dev", "main"]
    assert again.get_version("v1").commit_hash == repo.head.commit_hash
    assert again.fsck().ok
    assert _tree(repo.coral_dir) == before  # reading changes no file


# --- repositories in memory ---


def test_a_memory_repository_does_everything_but_gc() -> None:
    repo = Repository.from_parts(memory_parts())
    assert isinstance(repo.store, MemoryStore) and repo.store.delta_policy is not None
    repo.stage_weights({"a": np.zeros(32, np.float32), "b": np.ones(4, np.float32)})
    base = repo.commit("base")
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"a": np.full(32, 2, np.float32)}, partial=True)
    repo.commit("exp")
    repo.checkout("main")
    repo.stage_weights({"b": np.full(4, 3, np.float32)}, partial=True)
    repo.commit("main")
    merged = repo.merge("exp")
    assert len(merged.parent_hashes) == 2
    repo.tag_version("v1", metrics={"acc": 1.0})
    assert [c.metadata.message for c in repo.log()][-1] == "base"
    assert set(repo.diff(base.commit_hash)["modified"]) == {"a", "b"}
    assert float(repo.get_weight("a", "v1").data[0]) == 2
    repo.checkout(base.commit_hash)
    assert repo.head.detached
    assert repo.fsck().ok
    with pytest.raises(InvalidValueError, match="in memory"):
        repo.gc()


def test_a_memory_repository_leaves_no_files_behind() -> None:
    parts = memory_parts()
    scratch = parts.tmp_dir
    Repository.from_parts(parts).stage_weights({"w": np.ones(3, np.float32)})
    assert scratch.is_dir()
    del parts
    gc.collect()
    assert not scratch.exists()
    closed = memory_parts()
    closed.close()
    closed.close()  # idempotent
    assert not closed.tmp_dir.exists()


def test_memory_repositories_are_independent() -> None:
    one, two = Repository.from_parts(memory_parts()), Repository.from_parts(memory_parts())
    one.stage_weights({"w": np.ones(3, np.float32)})
    one.commit("one")
    assert two.head.commit_hash is None and two.status().clean


def test_a_thread_lock_is_reentrant_and_times_out() -> None:
    lock = ThreadLock(timeout=0.05)
    with lock.hold(), lock.hold():
        assert lock.held_by_this_thread()
    assert not lock.held_by_this_thread()
    failures: list[BaseException] = []
    with lock.hold():

        def take() -> None:
            try:
                with lock.hold():
                    pass
            except LockTimeoutError as err:
                failures.append(err)

        thread = threading.Thread(target=take)
        thread.start()
        thread.join()
    assert len(failures) == 1


def test_a_similarity_index_in_memory_finds_bases_without_a_file() -> None:
    index = SimilarityIndex(None)
    arr = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    index.add("a" * 32, arr)
    assert index.most_similar(arr * 1.001, 0.9) == "a" * 32
    assert index.retain(set(), Path("unused")) == 1
    assert index.most_similar(arr, 0.9) is None


def test_branch_records_move_by_compare_and_swap_in_memory_too() -> None:
    parts = memory_parts()
    commit_hash = "1" * 32
    parts.refs.write_branch(Branch("main", commit_hash), expected=None, who="t", message="m")
    assert parts.records.read("refs/heads/main") is not None
    assert parts.refs.head().commit_hash == commit_hash
