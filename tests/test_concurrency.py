"""Concurrency: processes that write one repository at the same time lose nothing.

Two child processes (fresh interpreters) open the same repository, wait at a barrier (a file
the test creates once both are ready) so their work really overlaps, then commit, stage, tag or
create branches. Each child writes what its calls returned to a JSON file; the test then checks
the repository against the union of those results.

The staging area is shared by every process, like git's index: a commit takes whatever is staged,
including another process's entries. The other process's next ``commit()`` may then find nothing
staged and raise ``NothingToCommitError``; that is fine, as long as no weight and no commit that
``commit()`` returned is lost.

Ref creation races on one name at a time (a barrier per name): two tags, two branches, and a
branch against a tag (names are shared by both kinds, so exactly one of the two may exist).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from coral.errors import InvalidValueError, NothingToCommitError, RefExistsError
from coral.version_control import Repository
from tests.helpers import assert_bit_exact

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120.0

_DTYPES = (
    np.dtype(np.float32),
    np.dtype(np.float16),
    np.dtype(ml_dtypes.bfloat16),
    np.dtype(np.int64),
    np.dtype(np.bool_),
)


def _weight(proc: int, index: int) -> np.ndarray:
    """The weight process ``proc`` stages in its ``index``-th round (distinct for each pair)."""
    rng = np.random.default_rng([proc, index])
    dtype = _DTYPES[index % len(_DTYPES)]
    shape = (48 + index, 33)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape, dtype=np.uint8).astype(np.bool_)
    if dtype == np.int64:
        return rng.integers(-(2**40), 2**40, size=shape, dtype=np.int64)
    return rng.standard_normal(shape, dtype=np.float32).astype(dtype)


def _name(proc: int, index: int) -> str:
    return f"p{proc}/w{index:02d}"


# --- the children (run with ``python -c``, see _run_together) ---


def _child_commit(repo: Repository, spec: dict[str, Any]) -> dict[str, Any]:
    proc, committed, nothing = spec["proc"], [], 0
    for index in range(spec["rounds"]):
        if spec["lockstep"]:
            _meet(spec, f"round-{index}")
        # each process adds its own weights: a partial update of the shared branch
        repo.stage_weights({_name(proc, index): _weight(proc, index)}, partial=True)
        try:
            commit = repo.commit(f"p{proc} round {index}")
        except NothingToCommitError:
            nothing += 1  # the other process's commit took our staged weight
        else:
            committed.append([index, commit.commit_hash])
    return {"committed": committed, "nothing": nothing}


def _child_stage(repo: Repository, spec: dict[str, Any]) -> dict[str, Any]:
    proc = spec["proc"]
    for index in range(spec["rounds"]):
        # each process adds its own weights: a partial update of the shared branch
        repo.stage_weights({_name(proc, index): _weight(proc, index)}, partial=True)
    return {}


def _child_create_refs(repo: Repository, spec: dict[str, Any]) -> dict[str, Any]:
    outcomes = {}
    for name in spec["names"]:
        _meet(spec, name)  # both processes go for this name at the same instant
        try:
            if spec["kind"] == "tag":
                repo.tag_version(name, commit_ref=spec["at"])
            else:
                repo.create_branch(name, from_ref=spec["at"])
        except (RefExistsError, InvalidValueError) as err:  # the test says which is right
            outcomes[name] = type(err).__name__
        else:
            outcomes[name] = "created"
    return {"outcomes": outcomes}


def _meet(spec: dict[str, Any], label: str) -> None:
    """A barrier: announce ``label``, then wait for every other process to."""
    sync = Path(spec["go"]).parent
    (sync / f"{spec['proc']}-{label}").touch()
    others = [sync / f"{p}-{label}" for p in range(spec.get("procs", 2))]
    deadline = time.monotonic() + TIMEOUT
    while not all(other.exists() for other in others):
        if time.monotonic() > deadline:
            raise TimeoutError(f"another process never reached {label!r}")
        time.sleep(0.0002)


def _child_main() -> None:
    spec = json.loads(sys.argv[1])
    repo = Repository(spec["repo"])
    Path(spec["ready"]).touch()
    deadline = time.monotonic() + TIMEOUT
    while not os.path.exists(spec["go"]):  # the barrier
        if time.monotonic() > deadline:
            raise TimeoutError("the test never opened the barrier")
        time.sleep(0.0005)
    task = {"commit": _child_commit, "stage": _child_stage, "refs": _child_create_refs}
    result = task[spec["task"]](repo, spec)
    out = Path(spec["out"])
    out.with_suffix(".tmp").write_text(json.dumps(result))
    out.with_suffix(".tmp").replace(out)


def _run_together(tmp_path: Path, task: str, specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Start one child per spec, release them at once, return what each reported."""
    go = tmp_path / "go"
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        "from tests.test_concurrency import _child_main; _child_main()"
    )
    children = []
    for i, spec in enumerate(specs):
        full = {
            **spec,
            "task": task,
            "ready": str(tmp_path / f"ready-{i}"),
            "go": str(go),
            "out": str(tmp_path / f"out-{i}.json"),
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-c", code, json.dumps(full)],
                env=os.environ.copy(),  # carries CORAL_AUTHOR_NAME/EMAIL set by conftest
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not all((tmp_path / f"ready-{i}").exists() for i in range(len(specs))):
            for child in children:
                if child.poll() is not None:
                    _, err = child.communicate()
                    pytest.fail(f"a child exited before the barrier:\n{err}")
            assert time.monotonic() < deadline, "children never became ready"
            time.sleep(0.005)
        go.touch()
        for child in children:
            _, err = child.communicate(timeout=TIMEOUT)
            assert child.returncode == 0, err
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    return [json.loads((tmp_path / f"out-{i}.json").read_text()) for i in range(len(specs))]


# --- the tests ---

ROUNDS = 15


@pytest.mark.slow
@pytest.mark.parametrize("procs", [2, 4, 6])
@pytest.mark.parametrize("lockstep", [False, True], ids=["free-running", "lockstep"])
def test_processes_committing_to_one_branch_lose_nothing(
    tmp_path: Path, lockstep: bool, procs: int
) -> None:
    """Free-running, the processes interleave as they please; in lockstep, all stage and
    commit at the same instant every round, so one commit often takes several staged weights."""
    path = tmp_path / "project"
    Repository(path, init=True).close()  # main is unborn: the first commits race to create it
    specs = [
        {"repo": str(path), "proc": p, "procs": procs, "rounds": ROUNDS, "lockstep": lockstep}
        for p in range(procs)
    ]
    results = _run_together(tmp_path, "commit", specs)
    returned: dict[str, tuple[int, int]] = {}
    for proc, result in enumerate(results):
        assert len(result["committed"]) + result["nothing"] == ROUNDS, result
        assert result["committed"], f"process {proc} never managed to commit"
        for index, commit_hash in result["committed"]:
            returned[commit_hash] = (proc, index)

    with Repository(path) as repo:
        report = repo.fsck()
        assert report.ok, str(report)
        assert repo.status().clean, f"staged entries left behind:\n{repo.status()}"
        history = repo.log()  # newest first
        hashes = [c.commit_hash for c in history]
        # Linear, starting from one root, and holding exactly the commits commit() returned.
        for newer, older in itertools.pairwise(history):
            assert newer.parent_hashes == [older.commit_hash], "history is not linear"
        assert history[-1].parent_hashes == []
        assert len(set(hashes)) == len(hashes)
        assert set(hashes) == set(returned), (
            f"lost: {sorted(set(returned) - set(hashes))}, "
            f"unexpected: {sorted(set(hashes) - set(returned))}"
        )
        # Each process's commits appear in the order it made them ...
        for proc in range(procs):
            mine = [returned[h][1] for h in reversed(hashes) if returned[h][0] == proc]
            assert mine == sorted(mine)
        # ... and each holds the weight its process staged just before (or an earlier commit
        # of the other process took it), bit-exactly.
        for commit_hash, (proc, index) in returned.items():
            actual = repo.get_weight(_name(proc, index), commit_hash)
            assert_bit_exact(actual.data, _weight(proc, index))
        # The final snapshot holds every weight either process staged.
        final = repo.get_all_weights()
        expected = {_name(p, i): _weight(p, i) for p in range(procs) for i in range(ROUNDS)}
        assert sorted(final) == sorted(expected)
        for name, array in expected.items():
            assert_bit_exact(final[name].data, array)


@pytest.mark.slow
def test_two_processes_staging_at_once_lose_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "project"
    rounds = 25
    with Repository(path, init=True) as repo:
        repo.stage_weights({"base": np.arange(10, dtype=np.float32)})
        repo.commit("base")
    _run_together(
        tmp_path, "stage", [{"repo": str(path), "proc": p, "rounds": rounds} for p in (0, 1)]
    )
    expected = {_name(p, i): _weight(p, i) for p in (0, 1) for i in range(rounds)}
    with Repository(path) as repo:
        status = repo.status()
        assert status.added == sorted(expected), f"staging lost entries:\n{status}"
        assert status.modified == status.removed == status.unchanged == []
        report = repo.fsck()
        assert report.ok, str(report)
        repo.commit("both processes' weights")
        final = repo.get_all_weights()
        assert sorted(final) == sorted([*expected, "base"])
        for name, array in expected.items():
            assert_bit_exact(final[name].data, array)


@pytest.mark.slow
@pytest.mark.parametrize(
    "kinds",
    [("tag", "tag"), ("branch", "branch"), ("branch", "tag")],
    ids=["tag-vs-tag", "branch-vs-branch", "branch-vs-tag"],
)
def test_two_processes_creating_the_same_ref_one_wins(
    tmp_path: Path, kinds: tuple[str, str]
) -> None:
    """Same name, same instant: one process creates the ref, the other is refused. A branch
    and a tag may not share a name either (refs must stay unambiguous), so a branch racing a
    tag for one name must also leave exactly one of them."""
    path = tmp_path / "project"
    with Repository(path, init=True) as repo:
        targets = []
        for step in range(2):
            repo.stage_weights({"w": np.full(4, step, dtype=np.int64)})
            targets.append(repo.commit(f"step {step}").commit_hash)
    names = [f"ref-{i:02d}" for i in range(20)]  # both processes race for each, in order
    specs = [
        {"repo": str(path), "proc": p, "kind": kinds[p], "names": names, "at": targets[p]}
        for p in (0, 1)
    ]
    results = _run_together(tmp_path, "refs", specs)
    # Refused like a sequential create would be: RefExistsError for a taken branch or tag
    # name, InvalidValueError ("is already a tag/branch") across kinds (or RefExistsError).
    refusals = (
        {"RefExistsError"} if kinds[0] == kinds[1] else {"RefExistsError", "InvalidValueError"}
    )
    with Repository(path) as repo:
        report = repo.fsck()
        assert report.ok, str(report)
        tags = {v.name for v in repo.list_versions()}
        branches = {b.name for b in repo.branch_manager.list_branches()} - {"main"}
        for name in names:
            outcomes = [r["outcomes"][name] for r in results]
            assert outcomes.count("created") == 1, f"{kinds} {name}: {outcomes}"
            winner = outcomes.index("created")
            assert outcomes[1 - winner] in refusals, f"{kinds} {name}: {outcomes}"
            assert repo.resolve_ref(name) == targets[winner], f"{kinds} {name} moved"
            made = {"branch": name in branches, "tag": name in tags}
            assert made == {k: k == kinds[winner] for k in made}, f"{name}: {made}"
        assert len(tags) + len(branches) == len(names)
