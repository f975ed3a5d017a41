"""Runs: a branch with params and a metric curve, committed without touching HEAD; any number
at once (threads, processes), resumable, durable against a kill, carried by push and clone."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from coral.errors import (
    ConcurrentUpdateError,
    InvalidTypeError,
    InvalidValueError,
    RefExistsError,
    RefNotFoundError,
)
from coral.records.staging import StagingArea
from coral.version_control import Repository

pytestmark = pytest.mark.disk_and_memory

F32 = np.float32


@pytest.fixture
def based(repo: Repository) -> Repository:
    repo.stage_weights({"w": np.zeros(4, F32)})
    repo.commit("base")
    return repo


def _w(value: float) -> dict[str, np.ndarray]:
    return {"w": np.full(4, value, F32)}


def test_a_run_commits_on_its_branch_and_leaves_head_and_staging_alone(based: Repository) -> None:
    repo = based
    base = repo.head.commit_hash
    repo.stage_weights(_w(9))  # the notebook's own staged work
    with repo.start_run("lr-3e-4", params={"lr": 3e-4, "batch": 32}) as run:
        assert repo.branch_manager.get_branch("lr-3e-4").commit_hash == base
        run.log({"loss": 0.9, "acc": 0.5}, step=1)
        commit = run.commit(_w(1), step=1, metrics={"val_loss": 0.7})
    assert commit is not None and commit.parent_hashes == [base]
    assert commit.metadata.message == "lr-3e-4: step 1"
    assert commit.metadata.extra["metrics"] == {"val_loss": 0.7}
    meta = commit.metadata.extra["run"]
    assert meta["name"] == "lr-3e-4" and meta["params"] == {"lr": 3e-4, "batch": 32}
    assert meta["metrics"] == {"loss": [[1, 0.9]], "acc": [[1, 0.5]], "val_loss": [[1, 0.7]]}
    assert repo.head.branch == "main" and repo.head.commit_hash == base
    assert repo.status().modified == ["w"]
    assert repo.get_weight("w", "lr-3e-4").data.tobytes() == _w(1)["w"].tobytes()


def test_points_without_a_step_follow_the_last_one(based: Repository) -> None:
    with based.start_run("r") as run:
        assert [run.log({"loss": v}) for v in (3.0, 2.0)] == [0, 1]
        assert run.log({"loss": 1.5}, step=10) == 10
        assert run.log({"loss": 1.0}) == 11
        assert run.metric_history() == {"loss": [(0, 3.0), (1, 2.0), (10, 1.5), (11, 1.0)]}


def test_non_finite_values_are_facts_kept_through_commits(based: Repository) -> None:
    with based.start_run("diverged") as run:
        run.log({"loss": math.nan, "grad": math.inf, "low": -math.inf}, step=0)
        run.commit(_w(1))
        run.log({"loss": np.float32("nan")}, step=1)
        history = run.metric_history()
    assert math.isnan(history["loss"][0][1]) and math.isnan(history["loss"][1][1])
    assert history["grad"] == [(0, math.inf)] and history["low"] == [(0, -math.inf)]
    stored = based.get_commit("diverged").metadata.extra["run"]["metrics"]
    assert stored["loss"] == [[0, "nan"]] and stored["grad"] == [[0, "inf"]]


@pytest.mark.parametrize(
    ("metrics", "step", "error"),
    [
        ({"loss": "low"}, None, InvalidValueError),
        ({"loss": True}, None, InvalidValueError),
        ({"": 1.0}, None, InvalidValueError),
        ({"step": 3}, None, InvalidValueError),
        ([("loss", 1.0)], None, InvalidTypeError),
        ({"loss": 1.0}, -1, InvalidValueError),
        ({"loss": 1.0}, 1.5, InvalidTypeError),
    ],
)
def test_bad_points_are_refused_and_journal_nothing(
    based: Repository, metrics: object, step: object, error: type
) -> None:
    with based.start_run("r") as run:
        with pytest.raises(error):
            run.log(metrics, step=step)  # type: ignore[arg-type]
        assert run.metric_history() == {}


def test_points_logged_after_the_last_commit_stay_with_the_run(based: Repository) -> None:
    repo = based
    with repo.start_run("r", params={"lr": 0.1}) as run:
        run.log({"loss": 1.0}, step=0)
        run.commit(_w(1), step=0)
        run.log({"loss": 0.5}, step=1)
    info = repo.run_info("r")
    assert info.status == "closed" and info.commits == 1 and info.last_step == 1
    assert info.metrics == {"loss": 0.5} and info.params == {"lr": 0.1}
    assert [r.name for r in repo.runs()] == ["r"]
    with repo.start_run("r", resume=True) as again:
        assert again.metric_history() == {"loss": [(0, 1.0), (1, 0.5)]}
        assert again.log({"loss": 0.25}) == 2  # after the run's last step
        commit = again.commit(_w(2))
    assert commit is not None
    assert commit.metadata.extra["run"]["metrics"] == {"loss": [[1, 0.5], [2, 0.25]]}
    assert repo.run_info("r").commits == 2


def test_starting_an_existing_run_or_resuming_a_missing_one_is_refused(
    based: Repository,
) -> None:
    repo = based
    repo.create_branch("taken")
    with pytest.raises(RefExistsError, match="resume=True"):
        repo.start_run("taken")
    with pytest.raises(RefNotFoundError, match="start it with"):
        repo.start_run("never", resume=True)
    repo.tag_version("v1")
    with pytest.raises(InvalidValueError, match="already a tag"):
        repo.start_run("v1")
    assert [b.name for b in repo.branch_manager.list_branches()] == ["main", "taken"]


def test_a_run_open_in_this_process_is_taken_over_only_by_resume(based: Repository) -> None:
    run = based.start_run("r")
    run.log({"loss": 1.0}, step=0)
    with pytest.raises(ConcurrentUpdateError, match="already open"):
        Repository.from_parts(based.parts).start_run("r", params={"lr": 1})
    again = based.start_run("r", resume=True)  # a notebook cell run a second time
    assert run.closed and not again.closed
    assert again.metric_history() == {"loss": [(0, 1.0)]}
    with pytest.raises(InvalidValueError, match="closed"):
        run.log({"loss": 2.0})
    again.close()


def test_a_run_dropped_without_close_does_not_block_its_name(based: Repository) -> None:
    import gc

    based.start_run("r").log({"loss": 1.0}, step=0)  # the object is dropped at once
    gc.collect()
    assert based.run_info("r").status == "closed"  # nothing has it open any more
    with based.start_run("r", resume=True) as run:
        assert run.metric_history() == {"loss": [(0, 1.0)]}


def test_a_resumed_run_keeps_its_params(based: Repository) -> None:
    based.start_run("r", params={"lr": 0.1}).close()
    with pytest.raises(InvalidValueError, match=r"lr=0\.1"):
        based.start_run("r", params={"lr": 0.2}, resume=True)
    with based.start_run("r", params={"warmup": 10}, resume=True) as run:
        assert run.params == {"lr": 0.1, "warmup": 10}


def test_params_must_be_json_values(based: Repository) -> None:
    with pytest.raises(InvalidValueError, match="str\\(value\\)"):
        based.start_run("r", params={"opt": object()})
    with pytest.raises(InvalidValueError, match="finite"):
        based.start_run("r", params={"lr": math.nan})
    assert not based.version_graph.commits() or "r" not in {
        b.name for b in based.branch_manager.list_branches()
    }


def test_a_closed_run_refuses_more_points(based: Repository) -> None:
    run = based.start_run("r")
    run.close()
    run.close()  # idempotent
    with pytest.raises(InvalidValueError, match="resume=True"):
        run.log({"loss": 1.0})


def test_a_run_in_an_empty_repository_makes_its_branch_with_its_first_commit(
    repo: Repository,
) -> None:
    with repo.start_run("first") as run:
        run.log({"loss": 1.0})
        commit = run.commit(_w(1))
    assert commit is not None and commit.parent_hashes == []
    assert repo.head.branch == "main" and repo.head.commit_hash is None
    assert repo.run_info("first").head == commit.commit_hash


def test_runs_in_threads_never_mix_weights_or_points(based: Repository) -> None:
    repo = based
    errors: list[BaseException] = []

    def train(index: int) -> None:
        try:
            with repo.start_run(f"run-{index}", params={"index": index}) as run:
                for step in range(6):
                    run.log({"loss": index + step / 10}, step=step)
                    run.commit(_w(index * 100 + step + 1), step=step, background=step % 2 == 1)
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=train, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _assert_runs_intact(repo, 4, 6)


def _assert_runs_intact(repo: Repository, runs: int, steps: int) -> None:
    """Every run's commits hold that run's weights and points only; HEAD never moved."""
    assert repo.head.branch == "main" and len(repo.log()) == 1
    for index in range(runs):
        name = f"run-{index}"
        commits = [c for c in repo.log(branch=name) if "run" in c.metadata.extra]
        assert len(commits) == steps
        for commit in commits:
            meta = commit.metadata.extra["run"]
            step = meta["step"]
            assert meta["name"] == name and meta["params"] == {"index": index}
            assert meta["metrics"] == {"loss": [[step, index + step / 10]]}
            weight = repo.get_weight("w", commit.commit_hash).data
            assert weight.tobytes() == _w(index * 100 + step + 1)["w"].tobytes()
        assert repo.run_info(name).metrics == {"loss": index + (steps - 1) / 10}
    assert repo.fsck().ok


def test_a_background_commit_is_bit_exact_while_the_caller_mutates(based: Repository) -> None:
    live = (np.random.default_rng(0).standard_normal(1 << 18) * 0.02).astype(F32)
    with based.start_run("bg") as run:
        expected = []
        for step in range(4):
            expected.append(live.copy())
            run.commit({"w": live}, step=step, background=True)
            live += F32(1e-3)  # the next optimizer step, while the commit is written
        made = run.wait()
    assert [c.metadata.extra["run"]["step"] for c in made] == [0, 1, 2, 3]
    for commit, want in zip(made, expected, strict=True):
        assert based.get_weight("w", commit.commit_hash).data.tobytes() == want.tobytes()


def test_a_background_commit_error_surfaces_on_the_next_call(based: Repository) -> None:
    run = based.start_run("bg")
    run.commit({"w": np.zeros(2, F32), "bad": np.array(["text"])}, background=True)
    with pytest.raises(Exception, match="bad"):
        run.wait()
    own = StagingArea(based.parts.records, based.parts.lock, key="staging/runs/bg.json")
    assert own.read().empty  # nothing of the failed commit waits for the next one
    run.commit(_w(1))  # the run goes on
    run.commit({"bad": np.array(["text"])}, background=True)
    with pytest.raises(Exception, match="bad"):
        run.close()
    assert run.closed


@pytest.mark.disk_only  # another process needs the directory
def test_runs_in_four_processes_never_mix(based: Repository) -> None:
    script = f"""
import sys
import numpy as np
from coral.version_control import Repository
index = int(sys.argv[1])
repo = Repository({str(based.path)!r})
with repo.start_run(f"run-{{index}}", params={{"index": index}}) as run:
    for step in range(6):
        run.log({{"loss": index + step / 10}}, step=step)
        run.commit({{"w": np.full(4, index * 100 + step + 1, np.float32)}}, step=step,
                   background=step % 2 == 1)
"""
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(i)], stderr=subprocess.PIPE)
        for i in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()
    _assert_runs_intact(Repository(based.path), 4, 6)


@pytest.mark.disk_only  # the killed process and the survivor share the directory
def test_a_process_killed_between_log_and_commit_loses_no_point(based: Repository) -> None:
    script = f"""
import os, signal
import numpy as np
from coral.version_control import Repository
run = Repository({str(based.path)!r}).start_run("crash", params={{"lr": 0.1}})
run.log({{"loss": 1.0}}, step=0)
run.commit({{"w": np.ones(4, np.float32)}}, step=0)
for step in range(1, 4):
    run.log({{"loss": 1.0 / (step + 1)}}, step=step)
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    repo = Repository(based.path)
    assert repo.run_info("crash").status == "closed"  # its process is gone
    with repo.start_run("crash", resume=True) as run:
        expected = [(0, 1.0), (1, 0.5), (2, 1 / 3), (3, 0.25)]
        assert run.metric_history() == {"loss": expected}
        commit = run.commit(_w(2))
    assert commit is not None
    assert commit.metadata.extra["run"]["metrics"]["loss"] == [[1, 0.5], [2, 1 / 3], [3, 0.25]]
    assert repo.fsck().ok


@pytest.mark.disk_only  # a second live process
def test_a_run_open_in_another_live_process_is_refused(based: Repository) -> None:
    script = f"""
import sys, time
from coral.version_control import Repository
run = Repository({str(based.path)!r}).start_run("held")
print("open", flush=True)
time.sleep(60)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"open"
        with pytest.raises(ConcurrentUpdateError, match=f"process {proc.pid}"):
            Repository(based.path).start_run("held", resume=True)
        with pytest.raises(ConcurrentUpdateError, match=f"process {proc.pid}"):
            Repository(based.path).start_run("held")  # nor started afresh over it
        assert based.run_info("held").status == "active"
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the pid is reaped: the run may be resumed now
        try:
            Repository(based.path).start_run("held", resume=True).close()
            break
        except ConcurrentUpdateError:
            time.sleep(0.1)
    assert based.run_info("held").status == "closed"


@pytest.mark.disk_only  # push and clone go through a folder
def test_the_metric_history_survives_push_and_clone(based: Repository, tmp_path: Path) -> None:
    repo = based
    with repo.start_run("shared", params={"lr": 0.01}) as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
            run.commit(_w(step + 1), step=step)
        run.log({"loss": 0.1}, step=3)  # not committed: it stays here
    repo.add_remote("origin", f"file://{tmp_path / 'remote'}")
    repo.push("origin")
    clone = Repository.clone(f"file://{tmp_path / 'remote'}", tmp_path / "clone")
    (info,) = [r for r in clone.runs() if r.name == "shared"]
    assert info.status == "committed" and info.params == {"lr": 0.01} and info.commits == 3
    with clone.start_run("shared", resume=True) as again:
        assert again.metric_history() == {"loss": [(0, 1.0), (1, 0.5), (2, 1 / 3)]}
        assert again.log({"loss": 0.2}) == 3


def test_a_run_record_is_local_bookkeeping_in_json(based: Repository) -> None:
    based.start_run("r", params={"lr": 0.1}).close()
    raw = based.parts.records.read("runs/r.json")
    assert raw is not None
    record = json.loads(raw)
    assert record["params"] == {"lr": 0.1} and record["status"] == "closed"
    assert record["pid"] == os.getpid()
