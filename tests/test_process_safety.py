"""Forks, threads and file descriptors: a repository stays usable in long-lived processes."""

from __future__ import annotations

import gc
import os
import threading

import numpy as np
import pytest

from coral.version_control import Repository


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_dropped_repositories_do_not_leak_file_descriptors(repo: Repository) -> None:
    for i in range(5):
        repo.stage_weights({f"w{i}": np.full(10, i, np.float32)})
        repo.commit(f"c{i}")  # five packs
    gc.collect()
    before = _open_fds()
    for _ in range(30):
        Repository(repo.path).get_all_weights()  # opens every pack, never closed explicitly
    gc.collect()
    assert _open_fds() <= before + 2


def _fork_and_commit_in_child(repo: Repository) -> int:
    pid = os.fork()
    if pid == 0:  # child: must not inherit a held lock or a wedged thread pool
        code = 1
        try:
            child = Repository(repo.path)
            child.stage_weights({"from_child": np.arange(1000, dtype=np.float64)})
            child.commit("child")
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads is the point
def test_a_child_forked_while_a_thread_holds_the_lock_can_still_commit(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(300_000, np.float32)})  # warms the codec thread pool
    repo.commit("base")
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with repo.parts.lock.hold():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    holding.wait(5)
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                # The parent's thread still holds the lock: this process must wait for the
                # parent (not for itself), and then succeed.
                repo.parts.lock.timeout = 20
                repo.stage_weights({"child": np.zeros(300_000, np.float32)})
                repo.commit("child")
                code = 0
            finally:
                os._exit(code)
    finally:
        release.set()
        holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert "child" in Repository(repo.path).get_commit().weight_hashes
    assert _fork_and_commit_in_child(repo) == 0
    assert repo.fsck().ok
