"""Blame, reflog, reset (undo) and storage stats, on histories whose answers are known."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from coral.cli.app import main
from coral.cli.output import Output
from coral.errors import RefNotFoundError
from coral.version_control import Repository


def _three_commits(repo: Repository) -> list[str]:
    """c0 adds a, b, c; c1 changes a (doubles it); c2 changes c; b never changes."""
    a, b = np.arange(1, 9, dtype=np.float32), np.ones(3, np.int64)
    hashes = []
    repo.stage_weights({"a": a, "b": b, "c": np.zeros(2, np.float32)})
    hashes.append(repo.commit("c0: init").commit_hash)
    repo.stage_weights({"a": a * 2, "b": b, "c": np.zeros(2, np.float32)})
    hashes.append(repo.commit("c1: double a").commit_hash)
    repo.stage_weights({"a": a * 2, "b": b, "c": np.ones(2, np.float32)})
    hashes.append(repo.commit("c2: set c").commit_hash)
    return hashes


def test_blame_names_the_commit_that_last_changed_each_tensor(repo: Repository) -> None:
    c0, c1, c2 = _three_commits(repo)
    blamed = repo.blame()
    assert {n: e.commit_hash for n, e in blamed.items()} == {"a": c1, "b": c0, "c": c2}
    assert blamed["a"].relative_change == pytest.approx(1.0)  # ||2a - a|| / ||a||
    assert blamed["b"].previous is None and blamed["b"].relative_change is None  # added
    assert blamed["c"].relative_change is None  # from zeros: relative change undefined
    assert "c1: double a" in str(blamed["a"])
    assert repo.blame("HEAD~2")["a"].commit_hash == c0
    assert repo.blame(stats=False)["a"].relative_change is None


def test_blame_through_a_merge_follows_first_parents(repo: Repository) -> None:
    _three_commits(repo)
    repo.create_branch("side")
    repo.checkout("side")
    repo.stage_weights({"b": np.full(3, 7, np.int64)})
    repo.commit("side: b")
    repo.checkout("main")
    merge = repo.merge("side", strategy="theirs", message="take side")
    assert merge.is_merge_commit or merge.commit_hash == repo.resolve_ref("side")
    assert repo.blame()["b"].commit_hash == repo.resolve_ref("HEAD")


def test_reflog_and_reset_undo_a_commit_and_the_undo(repo: Repository) -> None:
    c0, c1, c2 = _three_commits(repo)
    moves = repo.reflog()
    assert [e.new for e in moves] == [c2, c1, c0]
    assert moves[0].message == "commit: c2: set c"
    assert repo.resolve_ref("main@{1}") == c1 and repo.resolve_ref("@{2}") == c0
    assert repo.resolve_ref("HEAD@{1}") == c1  # where HEAD was one move ago
    repo.stage_weights({"a": np.zeros(8, np.float32)})
    assert repo.reset("main@{1}").commit_hash == c1  # undo the last commit
    assert repo.resolve_ref("main") == c1 and repo.status().clean
    assert repo.reflog()[0].message == "reset: moving to main@{1}"
    repo.reset("main@{1}")  # and undo the undo
    assert repo.resolve_ref("main") == c2
    with pytest.raises(RefNotFoundError, match="goes back only"):
        repo.resolve_ref("main@{40}")
    repo.stage_weights({"a": np.zeros(8, np.float32)})
    assert repo.reset() is None and repo.status().clean  # no ref: unstage only
    assert repo.resolve_ref("main") == c2


def test_stats_account_for_dedup_and_deltas(repo: Repository) -> None:
    rng = np.random.default_rng(0)
    big = rng.standard_normal((256, 256)).astype(np.float32)
    frozen = rng.standard_normal((128, 128)).astype(np.float32)
    for step in range(4):
        big = big + np.float32(1e-4) * rng.standard_normal(big.shape).astype(np.float32)
        repo.stage_weights({"big": big, "frozen": frozen})
        repo.commit(f"step {step}")
    stats = repo.stats()
    assert stats.commits == 4 and stats.objects == 5  # frozen stored once
    assert stats.logical_bytes == 4 * (big.nbytes + frozen.nbytes)
    assert stats.unique_bytes == 4 * big.nbytes + frozen.nbytes
    assert stats.delta_objects >= 2
    assert stats.stored_bytes < 0.6 * stats.unique_bytes
    assert stats.disk_bytes >= stats.stored_bytes
    assert "after dedup" in str(stats)


def _history_with_a_regression(repo: Repository, bad_at: int, n: int = 20) -> list[str]:
    """n commits; "loss" (a weight holding one number) jumps at commit ``bad_at``."""
    hashes = []
    for i in range(n):
        loss = 0.5 - 0.01 * i if i < bad_at else 2.0 + 0.01 * i
        repo.stage_weights({"loss": np.array([loss], np.float32), "w": np.full(4, i, np.int64)})
        hashes.append(repo.commit(f"step {i}").commit_hash)
    return hashes


def test_bisect_finds_the_first_bad_commit_in_log2_steps(repo: Repository) -> None:
    hashes = _history_with_a_regression(repo, bad_at=13)
    looked: list[int] = []

    def test(weights):  # type: ignore[no-untyped-def]
        looked.append(int(weights["w"].data[0]))
        return float(weights["loss"].data[0]) < 1.0

    result = repo.bisect(hashes[0], "HEAD", test)
    assert result.first_bad.commit_hash == hashes[13]
    assert len(result.steps) <= 2 + 5 and result.candidates == 18  # ends + ceil(log2(19))
    assert "is the first bad commit" in str(result) and "step 13" in str(result)
    by_metric = repo.bisect(
        hashes[0], "HEAD", metric=lambda w: float(w["loss"].data[0]), threshold=1.0
    )
    assert by_metric.first_bad.commit_hash == hashes[13]


def test_bisect_skips_commits_the_test_cannot_judge(repo: Repository) -> None:
    hashes = _history_with_a_regression(repo, bad_at=7, n=12)

    def test(weights):  # type: ignore[no-untyped-def]
        step = int(weights["w"].data[0])
        if step in (6, 7, 8):
            return None  # e.g. a broken checkpoint
        return step < 7

    result = repo.bisect(hashes[0], hashes[-1], test)
    # 6, 7 and 8 cannot be judged, so any of them or 9 (the first known bad) may be first bad.
    assert result.first_bad is None
    assert [c.commit_hash for c in result.undecided] == hashes[6:10]
    assert any(s.good is None for s in result.steps)
    text = str(result)
    assert "There are only 'skip'ped commits left to test" in text
    assert "is the first bad commit" not in text
    assert all(h in text for h in hashes[6:10])


def test_bisect_names_the_first_bad_commit_when_skips_do_not_hide_it(
    repo: Repository,
) -> None:
    hashes = _history_with_a_regression(repo, bad_at=7, n=12)

    def test(weights):  # type: ignore[no-untyped-def]
        step = int(weights["w"].data[0])
        return None if step in (5, 8) else step < 7

    result = repo.bisect(hashes[0], hashes[-1], test)
    assert result.first_bad is not None and result.first_bad.commit_hash == hashes[7]
    assert result.undecided == []


def test_bisect_refuses_inconsistent_ends_and_unrelated_refs(repo: Repository) -> None:
    hashes = _history_with_a_regression(repo, bad_at=5, n=8)
    with pytest.raises(ValueError, match="tests good"):
        repo.bisect(hashes[0], hashes[3], lambda w: True)
    with pytest.raises(ValueError, match="tests bad"):
        repo.bisect(hashes[0], hashes[-1], lambda w: False)
    with pytest.raises(ValueError, match="not an ancestor"):
        repo.bisect(hashes[-1], hashes[0], lambda w: True)
    with pytest.raises(ValueError, match="either test= or metric="):
        repo.bisect(hashes[0], hashes[-1])


def _cli(repo: Repository, *args: str) -> tuple[int, str]:
    """Run ``coral -C REPO ARGS...`` in this process: (exit code, stdout)."""
    out = io.StringIO()
    code = main(["-C", str(repo.path), *args], Output(out, io.StringIO()))
    return code, out.getvalue()


def test_coral_reflog_shows_heads_log_by_default_as_git_does(repo: Repository) -> None:
    c0, c1, _ = _three_commits(repo)
    repo.checkout(c0)
    code, shown = _cli(repo, "reflog")
    assert code == 0 and shown == _cli(repo, "reflog", "HEAD")[1]
    lines = shown.splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(f"{c0[:8]} HEAD@{{0}}: checkout: moving from main to {c0}")
    assert lines[1].startswith(f"{repo.resolve_ref('main')[:8]} HEAD@{{1}}: commit: c2: set c")
    main_lines = _cli(repo, "reflog", "main")[1].splitlines()
    assert len(main_lines) == 3 and f"{c1[:8]} main@{{1}}: commit: c1: double a" in main_lines[1]


def test_coral_bisect_exits_2_when_only_skipped_commits_are_left(repo: Repository) -> None:
    hashes = _history_with_a_regression(repo, bad_at=7, n=12)
    judge = (
        "import os, sys\n"
        "from coral.version_control import Repository\n"
        "repo = Repository(os.environ['CORAL_REPO'])\n"
        "step = int(repo.get_weight('w', os.environ['CORAL_BISECT_COMMIT']).data[0])\n"
        "sys.exit(125 if step in (6, 7, 8) else 0 if step < 7 else 1)\n"
    )
    code, shown = _cli(repo, "bisect", hashes[0], hashes[-1], "--", sys.executable, "-c", judge)
    assert code == 2  # git bisect's exit code when only skipped commits are left
    assert "The first bad commit could be any of:" in shown
    assert all(h in shown for h in hashes[6:10]) and hashes[5] not in shown.split("any of:")[1]
