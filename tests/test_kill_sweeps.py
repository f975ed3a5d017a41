"""#10 rows 1 and 2 beyond stage, commit and gc: merge, push, pull, repack and the ref
operations, each killed (SIGKILL, no cleanup) right after every one of its durable steps in
turn. After every kill the repository (and the remote) opens, passes fsck, shows the old or
the new state bit-exactly, and running the operation again completes it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from coral.version_control import Repository
from tests.helpers import assert_bit_exact, sweep_kills


def _tensor(seed: int, n: int = 2048) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def _diverged(path: Path) -> Repository:
    """main and exp both changed 'w' since their base; exp also added 'x'."""
    repo = Repository(path, init=True)
    repo.stage_weights({"w": _tensor(1), "b": np.arange(5, dtype=np.int64)})
    repo.commit("base")
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"w": _tensor(2), "x": _tensor(3, 64)})
    repo.commit("exp")
    repo.checkout("main")
    repo.stage_weights({"w": _tensor(4)})
    repo.commit("main")
    return repo


def _snapshot(repo: Repository, ref: str) -> dict[str, bytes]:
    return {n: w.data.tobytes() for n, w in repo.get_all_weights(ref).items()}


def _healthy(path: Path) -> Repository:
    repo = Repository(path)
    report = repo.fsck()
    assert report.ok, str(report)
    return repo


def test_a_merge_killed_at_every_step(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    before = _diverged(pristine).resolve_ref("main")
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    merged = Repository(reference).merge("exp", "average")
    expected = _snapshot(Repository(reference), merged.commit_hash)

    def check(path: Path, finished: bool) -> None:
        repo = _healthy(path)
        head = repo.get_commit("main")
        if head.commit_hash == before:
            assert not finished
            repo.merge("exp", "average")  # the merge can simply be run again
            head = repo.get_commit("main")
        assert head.parent_hashes == [before, repo.resolve_ref("exp")]
        assert _snapshot(repo, "main") == expected

    assert (
        sweep_kills(
            pristine, tmp_path / "work", lambda p: Repository(p).merge("exp", "average"), check
        )
        > 5
    )


def test_a_push_and_a_pull_killed_at_every_step(tmp_path: Path) -> None:
    # Built where the sweep runs (remote URLs are absolute), then kept as the pristine copy.
    work = tmp_path / "work"
    remote = f"file://{work / 'remote'}"
    a = _diverged(work / "a")
    a.add_remote("origin", remote)
    a.push("origin", "main")  # the remote starts with main only
    b = Repository.clone(remote, work / "b")
    old_main = b.resolve_ref("main")
    a.stage_weights({"w": _tensor(9)})
    a.commit("new on main")
    new_main = a.resolve_ref("main")
    expected = _snapshot(a, "main")
    a.close()
    b.close()
    before_push = tmp_path / "before-push"
    shutil.copytree(work, before_push)

    def check_push(path: Path, finished: bool) -> None:
        _healthy(path / "a")
        clone = Repository.clone(remote, path / "probe")  # verifies every object it installs
        assert clone.resolve_ref("main") in (old_main, new_main)
        Repository(path / "a").push("origin", "main")  # completes what the kill interrupted
        fresh = Repository.clone(remote, path / "probe2")
        assert fresh.resolve_ref("main") == new_main and _snapshot(fresh, "main") == expected

    pushes = sweep_kills(
        before_push, work, lambda p: Repository(p / "a").push("origin", "main"), check_push
    )

    # The pull: push for real, then kill b's pull at every step.
    shutil.rmtree(work)
    shutil.copytree(before_push, work)
    Repository(work / "a").push("origin", "main")
    before_pull = tmp_path / "before-pull"
    shutil.copytree(work, before_pull)

    def check_pull(path: Path, finished: bool) -> None:
        repo = _healthy(path / "b")
        assert repo.resolve_ref("main") in (old_main, new_main)
        repo.pull("origin")
        assert repo.resolve_ref("main") == new_main and _snapshot(repo, "main") == expected

    pulls = sweep_kills(before_pull, work, lambda p: Repository(p / "b").pull("origin"), check_pull)
    assert pushes > 3 and pulls > 3


def test_repack_killed_at_every_step(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    repo = Repository(pristine, init=True)
    for step in range(6):
        repo.stage_weights({"w": _tensor(1) + np.float32(step * 1e-3)})
        repo.commit(f"step {step}")
    history = {c.commit_hash: _snapshot(repo, c.commit_hash) for c in repo.log()}
    assert repo.store.info(repo.get_commit().weight_hashes["w"]).depth > 1

    def check(path: Path, finished: bool) -> None:
        survivor = _healthy(path)
        for commit_hash, weights in history.items():
            assert _snapshot(survivor, commit_hash) == weights

    assert sweep_kills(pristine, tmp_path / "work", lambda p: Repository(p).repack(1), check) > 2


def test_ref_operations_killed_at_every_step(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    repo = _diverged(pristine)
    main, exp = repo.resolve_ref("main"), repo.resolve_ref("exp")
    base = repo.resolve_ref("main~1")
    weights = {h: _snapshot(repo, h) for h in (main, exp, base)}

    def operations(path: Path) -> None:
        r = Repository(path)
        r.create_branch("b2", "exp")
        r.tag_version("t2", "a tag", {"acc": 0.5}, "main~1")
        r.reset("main~1")
        r.checkout("exp")
        r.delete_branch("b2")

    def check(path: Path, finished: bool) -> None:
        survivor = _healthy(path)
        branches = {b.name: b.commit_hash for b in survivor.branch_manager.list_branches()}
        assert branches.get("b2", exp) == exp
        assert branches["main"] in (main, base) and branches["exp"] == exp
        tags = {v.name: v.commit_hash for v in survivor.list_versions()}
        assert tags.get("t2", base) == base
        assert survivor.head.branch in ("main", "exp")
        for commit_hash, expected in weights.items():
            assert _snapshot(survivor, commit_hash) == expected
        assert_bit_exact(
            survivor.get_weight("w").data,
            np.frombuffer(weights[survivor.head.commit_hash]["w"], np.float32),
        )

    assert sweep_kills(pristine, tmp_path / "work", operations, check) > 5
