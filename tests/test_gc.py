"""Garbage collection: what it keeps (everything reachable, with delta bases; everything young),
what it removes, that a dry run changes nothing, and that it is safe beside writers, beside
readers holding an old index, and when killed at any durable step."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from coral.errors import CorruptObjectError, InvalidValueError, LockTimeoutError
from coral.records.expiry import parse_expiry
from coral.version_control import Repository
from tests.helpers import assert_bit_exact, sweep_kills

OLD = time.time() - 30 * 86400  # older than every default grace period


def _tensor(seed: int, n: int = 4096) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def _files(repo: Repository) -> dict[str, bytes]:
    """Every file under .coral (but the lock files), with its content."""
    out = {}
    for path in sorted(repo.coral_dir.rglob("*")):
        if path.is_file() and not path.name.endswith("lock"):
            out[str(path.relative_to(repo.coral_dir))] = path.read_bytes()
    return out


def _age(repo: Repository, when: float = OLD) -> None:
    """Make everything on disk look as old as ``when`` (past the grace period)."""
    for path in repo.coral_dir.rglob("*"):
        os.utime(path, (when, when), follow_symlinks=False)


def _backdate_reflogs(repo: Repository, days: int) -> None:
    for log in (repo.coral_dir / "logs").rglob("*"):
        if log.is_file():
            entries = [json.loads(line) for line in log.read_text().splitlines()]
            for entry in entries:
                when = datetime.fromisoformat(entry["time"]) - timedelta(days=days)
                entry["time"] = when.isoformat()
            log.write_text("".join(json.dumps(e) + "\n" for e in entries))


def _with_dead_branch(repo: Repository) -> dict[str, np.ndarray]:
    """main: two commits; 'exp' (then deleted): one commit with a tensor nothing else has.
    Returns main's weights."""
    repo.stage_weights({"w": _tensor(1), "b": np.arange(7, dtype=np.int64)})
    repo.commit("one")
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"only-exp": _tensor(99, 50_000)}, partial=True)
    repo.commit("exp work")
    repo.checkout("main")
    repo.stage_weights({"w": _tensor(2)}, partial=True)
    repo.commit("two")
    repo.delete_branch("exp", force=True)
    return {"w": _tensor(2), "b": np.arange(7, dtype=np.int64)}


def _assert_main_intact(repo: Repository, expected: dict[str, np.ndarray]) -> None:
    fresh = Repository(repo.path)
    report = fresh.fsck()
    assert report.ok, str(report)
    weights = fresh.get_all_weights("main")
    assert sorted(weights) == sorted(expected)
    for name, array in expected.items():
        assert_bit_exact(weights[name].data, array)
    first = fresh.get_all_weights("main~1")
    assert_bit_exact(first["w"].data, _tensor(1))


def test_a_deleted_branch_is_reclaimed_once_its_reflog_entries_expire(repo: Repository) -> None:
    expected = _with_dead_branch(repo)
    exp_objects = {"only-exp"}
    packs_before = len(repo.store.pack_names())

    kept = repo.gc(prune="now")  # the reflog still names exp's commit: nothing goes
    assert kept.objects_removed == 0 and kept.commits_removed == []
    assert kept.packs_before == packs_before and kept.packs_after == 1  # merged all the same

    report = repo.gc(prune="now", reflog_expire="now")
    assert report.objects_removed == 1 and len(report.commits_removed) == 1
    assert report.reflog_entries_expired >= 1 and report.bytes_freed > 50_000 * 4 // 2
    assert report.packs_after == 1
    assert not any(n in exp_objects for n in Repository(repo.path).get_all_weights("main"))
    _assert_main_intact(repo, expected)
    assert repo.gc(prune="now", reflog_expire="now").objects_removed == 0  # idempotent


def test_a_dry_run_reports_the_same_and_changes_nothing(repo: Repository) -> None:
    _with_dead_branch(repo)
    before = _files(repo)
    dry = repo.gc(prune="now", reflog_expire="now", dry_run=True)
    assert _files(repo) == before
    assert "would remove 1 objects, 1 commits" in str(dry)
    real = repo.gc(prune="now", reflog_expire="now")
    assert (dry.objects_removed, dry.commits_removed) == (
        real.objects_removed,
        real.commits_removed,
    )
    assert dry.packs_after == real.packs_after
    assert dry.bytes_freed <= real.bytes_freed  # a lower bound


def test_nothing_young_is_removed_until_the_grace_period_has_passed(repo: Repository) -> None:
    expected = _with_dead_branch(repo)
    young = repo.gc(reflog_expire="now")  # default grace: two weeks
    assert young.objects_removed == 0 and young.commits_removed == []
    assert young.objects_kept_young == 1 and young.commits_kept_young == 1
    assert "kept for the grace period: 1 objects, 1 commits" in str(young)
    _age(repo)
    old = repo.gc(reflog_expire="now")
    assert old.objects_removed == 1 and len(old.commits_removed) == 1
    _assert_main_intact(repo, expected)


def test_reflog_entries_keep_what_a_reset_left_behind(repo: Repository) -> None:
    repo.stage_weights({"w": _tensor(1)})
    repo.commit("one")
    repo.stage_weights({"w": _tensor(2)})
    undone = repo.commit("two")
    repo.reset("HEAD~1")
    assert repo.gc(prune="now").commits_removed == []
    assert_bit_exact(repo.get_weight("w", "main@{1}").data, _tensor(2))  # undo still works
    _backdate_reflogs(repo, days=29)
    assert repo.gc(prune="now").commits_removed == []  # default reflog expiry: 30 days
    _backdate_reflogs(repo, days=2)
    report = repo.gc(prune="now")
    assert report.commits_removed == [undone.commit_hash]
    assert_bit_exact(repo.get_weight("w").data, _tensor(1))
    assert repo.fsck().ok


def test_staged_weights_and_tags_are_roots(repo: Repository) -> None:
    repo.stage_weights({"w": _tensor(1)})
    repo.commit("one")
    repo.create_branch("tmp")
    repo.checkout("tmp")
    repo.stage_weights({"w": _tensor(5)})
    tagged = repo.commit("tagged")
    repo.tag_version("keep-me")
    repo.checkout("main")
    repo.delete_branch("tmp", force=True)
    repo.stage_weights({"staged": _tensor(7)})  # staged, not committed
    report = repo.gc(prune="now", reflog_expire="now")
    assert report.objects_removed == 0 and report.commits_removed == []
    assert report.reclaimable["staging"] > 0 and report.reclaimable["tag keep-me"] > 0
    assert_bit_exact(repo.get_weight("w", "keep-me").data, _tensor(5))
    repo.commit("staged survives")
    assert_bit_exact(repo.get_weight("staged").data, _tensor(7))
    assert repo.get_commit("keep-me").commit_hash == tagged.commit_hash


def test_a_delta_base_only_a_deleted_branch_had_is_kept(repo: Repository) -> None:
    base = _tensor(3, 65_536)
    repo.stage_weights({"w": _tensor(1)})
    repo.commit("one")
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"layer": base})
    repo.commit("exp")
    repo.checkout("main")
    near = base.copy()
    near[::97] += 1e-3  # nearly equal under another name: stored as a delta on exp's tensor
    oid = repo.stage_weights({"renamed": near})["renamed"]
    repo.commit("uses exp's tensor as a base")
    (base_oid,) = repo.store.info(oid).bases
    repo.delete_branch("exp", force=True)
    report = repo.gc(prune="now", reflog_expire="now")
    assert len(report.commits_removed) == 1
    fresh = Repository(repo.path)
    assert base_oid in fresh.store and fresh.fsck().ok
    assert_bit_exact(fresh.get_weight("renamed").data, near)


def test_small_packs_are_merged_and_history_reads_back(repo: Repository) -> None:
    for step in range(12):
        repo.stage_weights({"w": _tensor(step), f"extra{step % 3}": _tensor(100 + step, 64)})
        repo.commit(f"step {step}")
    assert len(repo.store.pack_names()) == 12
    report = repo.gc()  # nothing is garbage: young packs are merged all the same
    assert report.packs_after == 1 and report.objects_removed == 0
    fresh = Repository(repo.path)
    for step in range(12):
        assert_bit_exact(fresh.get_weight("w", f"main~{11 - step}").data, _tensor(step))
    assert fresh.fsck().ok


def test_old_temp_files_go_young_ones_stay(repo: Repository) -> None:
    repo.stage_weights({"w": _tensor(1)})
    repo.commit("one")
    tmp = repo.coral_dir / "tmp"
    (tmp / "pack-dead.h5.tmp").write_bytes(b"half a pack")
    (tmp / ".pull-dead").mkdir()
    (tmp / ".pull-dead" / "object").write_bytes(b"x")
    orphan = repo.coral_dir / "objects" / "packs" / "pack-gone.idx.json"
    orphan.write_text("{}")
    assert repo.gc().temp_files_removed == []
    for path in (tmp / "pack-dead.h5.tmp", tmp / ".pull-dead", orphan):
        os.utime(path, (OLD, OLD))
    removed = repo.gc().temp_files_removed
    assert sorted(removed) == [
        "objects/packs/pack-gone.idx.json",
        "tmp/.pull-dead",
        "tmp/pack-dead.h5.tmp",
    ]
    assert list(tmp.iterdir()) == [] and not orphan.exists()


def test_a_reader_with_an_old_index_finds_the_moved_objects(repo: Repository) -> None:
    expected = _with_dead_branch(repo)
    reader = Repository(repo.path)
    assert_bit_exact(reader.get_weight("w", "main~1").data, _tensor(1))  # index loaded
    reader.store.cache.clear()
    Repository(repo.path).gc(prune="now", reflog_expire="now")
    for name, array in expected.items():  # its index names packs that are gone
        assert_bit_exact(reader.get_weight(name).data, array)
    assert_bit_exact(reader.get_weight("w", "main~1").data, _tensor(1))


def test_a_writer_with_an_old_index_does_not_dedup_against_deleted_objects(
    repo: Repository,
) -> None:
    _with_dead_branch(repo)
    writer = Repository(repo.path)
    assert "only-exp" not in writer.get_all_weights()  # index loaded, exp's object listed
    Repository(repo.path).gc(prune="now", reflog_expire="now")
    writer.stage_weights({"revived": _tensor(99, 50_000)})  # exp's deleted tensor, again
    writer.commit("revive")
    fresh = Repository(repo.path)
    assert_bit_exact(fresh.get_weight("revived").data, _tensor(99, 50_000))
    assert fresh.fsck().ok


def test_gc_waits_for_a_writer_between_dedup_and_commit(repo: Repository) -> None:
    """The race git leaves open: a writer reuses an unreferenced object while gc deletes it.
    Here the writer holds the gc lock shared from staging to commit; gc (in another
    process-like repository object and thread) must wait, then keep the revived object."""
    _with_dead_branch(repo)
    other = Repository(repo.path)
    results: list[object] = []
    with repo.store.guard_writes():
        thread = threading.Thread(
            target=lambda: results.append(other.gc(prune="now", reflog_expire="now"))
        )
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive() and results == []  # waiting for us
        repo.stage_weights({"revived": _tensor(99, 50_000)})  # dedups: no new pack
        repo.commit("revive")
    thread.join(30)
    assert results and results[0].objects_removed == 0  # type: ignore[attr-defined]
    fresh = Repository(repo.path)
    assert_bit_exact(fresh.get_weight("revived").data, _tensor(99, 50_000))
    assert fresh.fsck().ok


def test_a_writer_waits_for_gc_and_says_why_when_it_gives_up(repo: Repository) -> None:
    _with_dead_branch(repo)
    repo.config.set("core.lock_timeout", 0.2)
    writer = Repository(repo.path)
    with repo.store.gc_lock.collecting(), pytest.raises(LockTimeoutError, match="gc"):
        writer.stage_weights({"x": _tensor(5)})
    assert writer.status().clean


def test_gc_refuses_to_guess_when_a_reachable_commit_is_damaged(repo: Repository) -> None:
    _with_dead_branch(repo)
    first = repo.get_commit("main~1")
    (repo.coral_dir / "objects" / "commits" / f"{first.commit_hash}.json").write_text("{broken")
    before = _files(repo)
    with pytest.raises(CorruptObjectError, match="gc stopped before deleting anything"):
        Repository(repo.path).gc(prune="now", reflog_expire="now")
    assert _files(repo) == before


def test_reclaimable_bytes_per_ref(repo: Repository) -> None:
    repo.stage_weights({"shared": _tensor(1)})
    repo.commit("one")
    repo.create_branch("big")
    repo.checkout("big")
    oid = repo.stage_weights({"mine": _tensor(8, 100_000)})["mine"]
    repo.commit("big only")
    repo.checkout("main")
    report = repo.gc(dry_run=True)
    assert report.reclaimable["branch big"] == repo.store.info(oid).stored_nbytes
    assert report.reclaimable["branch main"] == 0
    assert "branch big" in str(report)


@pytest.mark.parametrize("value", ["soon", "-1d", "2.fortnights.ago", -5, float("nan")])
def test_bad_grace_periods_are_refused(repo: Repository, value: object) -> None:
    with pytest.raises(InvalidValueError, match=r"not a grace period|non-negative"):
        repo.gc(prune=value)  # type: ignore[arg-type]


def test_grace_period_forms() -> None:
    assert parse_expiry("now").total_seconds() == 0  # type: ignore[union-attr]
    assert parse_expiry("never") is None
    assert parse_expiry("2.weeks.ago").days == 14  # type: ignore[union-attr]
    assert parse_expiry("3d").days == 3  # type: ignore[union-attr]
    assert parse_expiry("90m").total_seconds() == 5400  # type: ignore[union-attr]
    assert parse_expiry(60).total_seconds() == 60  # type: ignore[union-attr]


# --- killed at every durable step ---


def test_gc_killed_at_every_durable_step_loses_nothing(repo: Repository, tmp_path: Path) -> None:
    expected = _with_dead_branch(repo)
    repo.stage_weights({"staged": _tensor(7)})
    pristine = tmp_path / "pristine"
    shutil.copytree(repo.path, pristine)

    def collect(path: Path) -> None:
        Repository(path).gc(prune="now", reflog_expire="now")

    def check(path: Path, finished: bool) -> None:
        _assert_main_intact(Repository(path), expected)
        survivor = Repository(path)
        survivor.commit("after the crash")  # the staged weight survived too
        assert_bit_exact(survivor.get_weight("staged").data, _tensor(7))
        again = survivor.gc(prune="now", reflog_expire="now")  # and gc finishes the job
        assert survivor.fsck().ok and again.packs_after == 1

    assert sweep_kills(pristine, repo.path, collect, check) > 5  # kills landed inside gc


# --- beside a writer in another process ---

_ROOT = Path(__file__).resolve().parents[1]


def _revive_loop(path: str, rounds: int) -> None:
    """Each round commits a tensor on a branch, deletes the branch (so the tensor is garbage
    for a gc that expires reflogs at once), then commits the same tensor on main: a dedup
    against an object that gc may be deleting at that very moment."""
    repo = Repository(path)
    for i in range(rounds):
        repo.create_branch(f"side{i}")
        repo.checkout(f"side{i}")
        repo.stage_weights({"x": _tensor(1000 + i)})
        repo.commit(f"side {i}")
        repo.checkout("main")
        repo.delete_branch(f"side{i}", force=True)
        repo.stage_weights({"x": _tensor(1000 + i)})
        repo.commit(f"main {i}")


def _gc_loop(path: str, stop_file: str) -> None:
    repo = Repository(path)
    while not os.path.exists(stop_file):
        repo.gc(prune="now", reflog_expire="now")


def _spawn(code: str) -> subprocess.Popen[bytes]:
    prelude = (
        f"import sys; sys.path.insert(0, {str(_ROOT)!r}); "
        "from tests.test_gc import _commit_steps, _gc_loop, _revive_loop; "
    )
    return subprocess.Popen([sys.executable, "-c", prelude + code], cwd=_ROOT)


def test_gc_in_a_loop_beside_a_process_reviving_garbage(repo: Repository, tmp_path: Path) -> None:
    repo.stage_weights({"x": _tensor(0)})
    repo.commit("start")
    stop = tmp_path / "stop"
    collector = _spawn(f"_gc_loop({str(repo.path)!r}, {str(stop)!r})")
    try:
        writer = _spawn(f"_revive_loop({str(repo.path)!r}, 8)")
        assert writer.wait(timeout=240) == 0
    finally:
        stop.touch()
        assert collector.wait(timeout=120) == 0
    fresh = Repository(repo.path)
    report = fresh.fsck()
    assert report.ok, str(report)
    main = [c for c in fresh.log(branch="main") if c.metadata.message.startswith("main ")]
    assert len(main) == 8
    for commit in main:
        i = int(commit.metadata.message.split()[1])
        assert_bit_exact(fresh.get_weight("x", commit.commit_hash).data, _tensor(1000 + i))


def _commit_steps(path: str, first: int, last: int) -> None:
    repo = Repository(path)
    for i in range(first, last):
        repo.stage_weights({"w": _tensor(500 + i), "step": np.array(i)})
        repo.commit(f"step {i}")


def test_readers_beside_commits_and_gc_see_old_or_new_never_an_error(
    repo: Repository, tmp_path: Path
) -> None:
    """#10 row 10: a reader in this process reads main in a loop (a long-lived repository
    object, whose index gc keeps outdating, and fresh ones) while one process commits and
    another collects garbage with prune=now; every read is a whole snapshot of one commit."""
    repo.stage_weights({"w": _tensor(500), "step": np.array(0)})
    repo.commit("step 0")
    stop = tmp_path / "stop"
    collector = _spawn(f"_gc_loop({str(repo.path)!r}, {str(stop)!r})")
    writer = _spawn(f"_commit_steps({str(repo.path)!r}, 1, 25)")
    long_lived = Repository(repo.path)
    reads, seen = 0, set()
    try:
        while writer.poll() is None or reads < 5:
            reader = long_lived if reads % 2 else Repository(repo.path)
            weights = reader.get_all_weights(reader.resolve_ref("main"))
            step = int(weights["step"].data)
            assert_bit_exact(weights["w"].data, _tensor(500 + step))
            reads, seen = reads + 1, seen | {step}
        assert writer.wait(timeout=240) == 0
    finally:
        stop.touch()
        assert collector.wait(timeout=120) == 0
    assert len(seen) > 2 and Repository(repo.path).fsck().ok
