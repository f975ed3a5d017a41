"""A second writer: a workspace bound to one branch, with a staging area of its own, commits
there without touching HEAD, the shared staging area or another writer (the seam runs use)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from coral.errors import NothingToCommitError
from coral.history.service import History
from coral.records.staging import StagingArea
from coral.version_control import Repository
from coral.workspace.workspace import Workspace

pytestmark = pytest.mark.disk_and_memory


def writer(repo: Repository, branch: str) -> Workspace:
    """A workspace committing to ``branch`` only, staging in a record of its own."""
    staging = StagingArea(repo.parts.records, repo.parts.lock, key=f"staging/{branch}.json")
    return Workspace(repo.parts, History(repo.parts), staging=staging, branch=branch)


@pytest.fixture
def based(repo: Repository) -> Repository:
    repo.stage_weights({"w": np.zeros(4, np.float32)})
    repo.commit("base")
    return repo


def test_a_bound_workspace_moves_only_its_branch(based: Repository) -> None:
    repo = based
    base = repo.head.commit_hash
    repo.create_branch("run-a")
    repo.stage_weights({"w": np.full(4, 9, np.float32)})  # the notebook's own staged work
    head_log = repo.reflog("HEAD")

    run = writer(repo, "run-a")
    run.stage_weights({"w": np.ones(4, np.float32)})
    made = run.commit("step 1")

    assert repo.branch_manager.get_branch("run-a").commit_hash == made.commit_hash
    assert made.parent_hashes == [base]
    assert repo.head.branch == "main" and repo.head.commit_hash == base
    assert repo.status().modified == ["w"]  # the shared staging area is untouched
    assert repo.reflog("HEAD") == head_log
    assert repo.reflog("run-a")[0].new == made.commit_hash
    assert run.status().clean and run.tip().commit_hash == made.commit_hash
    assert float(repo.get_weight("w", "run-a").data[0]) == 1.0


def test_a_bound_workspace_commits_exactly_its_own_snapshot(based: Repository) -> None:
    repo = based
    repo.create_branch("run-a")
    run = writer(repo, "run-a")
    with pytest.raises(NothingToCommitError):
        run.commit("nothing staged here")  # the shared staging area is not its to commit
    run.stage_weights({"w": np.ones(4, np.float32), "b": np.zeros(2, np.float32)})
    first = run.commit("two weights")
    run.stage_weights({"b": np.ones(2, np.float32)})
    second = run.commit("one weight")  # a snapshot: "w" is left out
    assert set(first.weight_hashes) == {"w", "b"} and set(second.weight_hashes) == {"b"}


def test_parallel_writers_never_mix_their_weights(based: Repository) -> None:
    repo = based
    names = [f"run-{i}" for i in range(4)]
    for name in names:
        repo.create_branch(name)
    errors: list[BaseException] = []

    def train(index: int, branch: str) -> None:
        try:
            run = writer(repo, branch)
            for step in range(5):
                run.stage_weights({"w": np.full(4, index * 100 + step + 1, np.float32)})
                run.commit(f"{branch} step {step}")
        except BaseException as err:  # reported below, not lost in the thread
            errors.append(err)

    threads = [threading.Thread(target=train, args=(i, n)) for i, n in enumerate(names)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for index, name in enumerate(names):
        history = repo.log(branch=name)
        assert [c.metadata.message for c in history[:5]] == [
            f"{name} step {s}" for s in reversed(range(5))
        ]
        for step, commit in zip(reversed(range(5)), history[:5], strict=True):
            value = repo.get_weight("w", commit.commit_hash).data
            assert value.tobytes() == np.full(4, index * 100 + step + 1, np.float32).tobytes()
    assert repo.head.branch == "main" and len(repo.log()) == 1
    assert repo.fsck().ok


@pytest.mark.disk_only  # gc rewrites pack files
def test_gc_keeps_what_a_writer_staged_in_its_own_area(based: Repository) -> None:
    repo = based
    repo.create_branch("run-a")
    run = writer(repo, "run-a")
    staged = (np.random.default_rng(0).standard_normal(4096) * 0.02).astype(np.float32)
    oid = run.stage_weights({"w": staged})["w"]
    report = repo.gc(prune="now")  # nothing commits it yet: only its staging area keeps it
    assert "staging run-a" in report.reclaimable
    assert oid in repo.store
    assert run.commit("after gc").weight_hashes["w"] == oid
    assert repo.get_weight("w", "run-a").data.tobytes() == staged.tobytes()


def test_fsck_checks_every_writers_staging_area(based: Repository) -> None:
    repo = based
    repo.create_branch("run-a")
    run = writer(repo, "run-a")
    run.stage_weights({"w": np.ones(4, np.float32)})
    raw = repo.parts.records.read("staging/run-a.json")
    assert raw is not None
    damaged = raw.replace(run.staging.read().weights["w"].object_id.encode(), b"0" * 32)
    repo.parts.records.write("staging/run-a.json", damaged)
    report = repo.fsck()
    assert not report.ok
    assert any(i.subject == "staging run-a" and "re-stage" in i.message for i in report.errors)
