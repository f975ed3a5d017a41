"""fsck names every kind of damage, and the repository still opens."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from coral.version_control import Repository


@pytest.fixture
def history(repo: Repository) -> Repository:
    rng = np.random.default_rng(0)
    repo.stage_weights(
        {
            "a": (rng.standard_normal(20_000) * 0.02).astype(np.float32),
            "b": np.arange(10, dtype=np.int64),
        }
    )
    repo.commit("first")
    repo.stage_weights({"a": (rng.standard_normal(20_000) * 0.02).astype(np.float32)}, partial=True)
    repo.commit("second")
    repo.tag_version("v1")
    return repo


def _kinds(repo: Repository) -> set[str]:
    return {issue.kind for issue in Repository(repo.path).fsck().errors}


def test_a_healthy_repository_passes(history: Repository) -> None:
    report = history.fsck()
    assert report.ok and report.errors == []
    assert report.objects_checked == 3 and report.commits_checked == 2
    assert "OK" in str(report)


def test_a_flipped_byte_in_a_pack_is_found_and_named(history: Repository) -> None:
    oid = history.get_commit().weight_hashes["a"]
    info = history.store.info(oid)
    history.close()
    pack = history.coral_dir / "objects" / "packs" / info.location
    with h5py.File(pack, "r") as f:
        offset = f["objects"][oid].id.get_offset()
    data = bytearray(pack.read_bytes())
    data[offset + info.stored_nbytes // 2] ^= 0x01
    pack.write_bytes(bytes(data))
    report = Repository(history.path).fsck()
    assert not report.ok
    corrupt = [i for i in report.errors if i.kind == "corrupt-object"]
    assert [i.subject for i in corrupt] == [oid]
    damaged = [i.message for i in report.errors if i.kind == "damaged-weight"]
    assert damaged and all("'a'" in m for m in damaged)


def test_a_deleted_pack_is_reported_as_missing_objects(history: Repository) -> None:
    for pack in (history.coral_dir / "objects" / "packs").iterdir():
        pack.unlink()
    assert "missing-object" in _kinds(history)


def test_a_tampered_commit_is_reported(history: Repository) -> None:
    commit = history.get_commit("HEAD~1")
    path = history.coral_dir / "objects" / "commits" / f"{commit.commit_hash}.json"
    data = json.loads(path.read_text())
    data["metadata"]["message"] = "rewritten history"
    path.write_text(json.dumps(data))
    assert {"corrupt-commit", "damaged-parent"} <= _kinds(history)


def test_a_branch_pointing_nowhere_is_reported(history: Repository) -> None:
    ref = history.coral_dir / "refs" / "heads" / "ghost"
    ref.write_text(json.dumps({"name": "ghost", "commit_hash": "f" * 32, "parent_branch": None}))
    assert "bad-ref" in _kinds(history)


def test_an_unparseable_branch_file_is_reported_and_others_still_work(
    history: Repository,
) -> None:
    (history.coral_dir / "refs" / "heads" / "broken").write_text("{not json")
    assert "bad-ref" in _kinds(history)
    assert Repository(history.path).get_weight("b").shape == (10,)


def test_a_tag_pointing_nowhere_is_reported(history: Repository) -> None:
    path = next((history.coral_dir / "versions").iterdir())
    data = json.loads(path.read_text())
    data["commit_hash"] = "e" * 32
    path.write_text(json.dumps(data))
    assert "bad-tag" in _kinds(history)


def test_a_garbage_head_is_reported_with_the_fix(history: Repository) -> None:
    (history.coral_dir / "HEAD").write_text("garbage")
    report = Repository(history.path).fsck()
    assert [i.kind for i in report.errors] == ["bad-head"]
    assert "ref: refs/heads/main" in report.errors[0].message


def test_leftover_temp_files_and_dangling_commits_are_only_warnings(
    history: Repository,
) -> None:
    (history.coral_dir / "tmp" / "pack-dead.h5.tmp").write_bytes(b"half a pack")
    history.create_branch("doomed")
    history.checkout("doomed")
    history.stage_weights({"b": np.zeros(10, np.int64)})
    history.commit("to be orphaned")
    history.checkout("main")
    history.delete_branch("doomed", force=True)
    for log in (history.coral_dir / "logs").rglob("*"):
        if log.is_file():
            log.unlink()
    report = Repository(history.path).fsck()
    assert report.ok
    assert {w.kind for w in report.warnings} == {"temp-file", "dangling-commit"}


def test_a_staged_object_that_vanished_is_reported(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(3, np.float32)})
    for pack in (repo.coral_dir / "objects" / "packs").iterdir():
        pack.unlink()
    assert "missing-object" in _kinds(repo)


def test_fsck_without_rehashing_still_follows_references(history: Repository) -> None:
    report = history.fsck(verify_objects=False)
    assert report.ok and report.objects_checked == 3
