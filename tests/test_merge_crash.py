"""A merge killed at any instant leaves the repository as it was, or merged."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from coral.version_control import Repository
from tests.helpers import assert_bit_exact

_TENSORS, _SIZE = 12, 1 << 18


def _build(path: Path) -> tuple[str, dict[str, np.ndarray], dict[str, np.ndarray]]:
    repo = Repository(path, init=True)
    rng = np.random.default_rng(0)
    base = {f"w{i}": rng.standard_normal(_SIZE).astype(np.float32) for i in range(_TENSORS)}
    repo.stage_weights(base)
    repo.commit("base")
    repo.create_branch("exp")
    ours = {k: v + np.float32(1) for k, v in base.items()}
    repo.stage_weights(ours)
    repo.commit("ours")
    repo.checkout("exp")
    theirs = {k: v - np.float32(1) for k, v in base.items()}
    repo.stage_weights(theirs)
    repo.commit("theirs")
    repo.checkout("main")
    return repo.resolve_ref("main"), ours, theirs


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads is the point
def test_sigkill_during_a_merge_leaves_the_old_or_the_merged_state(tmp_path: Path) -> None:
    template = tmp_path / "template"
    before, ours, theirs = _build(template)
    # Time one merge, then kill copies of the repository at points spread over that time.
    probe = tmp_path / "probe"
    shutil.copytree(template, probe)
    start = time.perf_counter()
    Repository(probe).merge("exp", strategy="average")
    duration = time.perf_counter() - start
    outcomes = set()
    for i, fraction in enumerate((0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, 1.1)):
        path = tmp_path / f"kill{i}"
        shutil.copytree(template, path)
        pid = os.fork()
        if pid == 0:
            try:
                Repository(path).merge("exp", strategy="average")
            finally:
                os._exit(0)
        time.sleep(duration * fraction)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

        repo = Repository(path)
        report = repo.fsck()
        assert report.ok, (fraction, str(report))
        head = repo.get_commit()
        if head.commit_hash == before:
            outcomes.add("old")
            repo.merge("exp", strategy="average")  # the killed merge re-runs cleanly
            head = repo.get_commit()
        else:
            outcomes.add("merged")
        assert head.is_merge_commit and head.parent_hashes[0] == before
        merged = repo.get_all_weights()
        for name in ours:
            expected = ours[name] * np.float32(0.5) + theirs[name] * np.float32(0.5)
            assert_bit_exact(merged[name].data, expected)
        assert repo.fsck().ok
    assert "old" in outcomes
