"""Runs benchmark: a sweep of 8 runs committing every step from 8 processes into one
repository, the cost of ``run.log``, and background against synchronous commits of a large
model; each beside what a user would do instead.

1. ``run.log`` per call (target < 50 us), against appending a CSV line and flushing it (the
   notebook user's own log file), and against the same with fsync.
2. 8 processes (on however many cores there are), each a run of a small MLP (~1 MiB of
   float32) that logs and commits every step: commits per second in total, then every commit
   is checked (its own run's weights and points, HEAD unmoved) and fsck must pass. Beside it:
   the same 8 processes writing one safetensors file per step.
3. A ~512 MiB model: the time a synchronous ``run.commit`` takes against the time
   ``run.commit(..., background=True)`` takes to return (target <= 0.3x), and
   ``safetensors.numpy.save_file`` of the same weights.

Usage: python benchmarks/bench_runs.py [--dir /tmp] [--steps 20] [--big-mib 512]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from coral.version_control import Repository

RUNS = 8


def mlp(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = [(256, 256), (256,), (256, 256), (256,), (256, 256), (256,), (256, 64), (64,)]
    return {
        f"layer{i}.{'weight' if len(s) == 2 else 'bias'}": (rng.standard_normal(s) * 0.05).astype(
            np.float32
        )
        for i, s in enumerate(sizes)
    }


def sgd_step(weights: dict[str, np.ndarray], rng: np.random.Generator) -> None:
    for array in weights.values():
        array -= (rng.standard_normal(array.shape) * 1e-4).astype(np.float32)


def log_overhead(work: Path, calls: int) -> tuple[float, float, float]:
    repo = Repository(work / "log", init=True)
    with repo.start_run("log-bench") as run:
        start = time.perf_counter()
        for step in range(calls):
            run.log({"loss": 1.0 / (step + 1), "lr": 3e-4}, step=step)
        coral_us = (time.perf_counter() - start) / calls * 1e6
    with open(work / "log.csv", "w") as fh:
        start = time.perf_counter()
        for step in range(calls):
            fh.write(f"{step},{1.0 / (step + 1)},{3e-4}\n")
            fh.flush()
        csv_us = (time.perf_counter() - start) / calls * 1e6
    import os

    with open(work / "log-sync.csv", "w") as fh:
        few = max(1, calls // 20)
        start = time.perf_counter()
        for step in range(few):
            fh.write(f"{step},{1.0 / (step + 1)},{3e-4}\n")
            fh.flush()
            os.fsync(fh.fileno())
        fsync_us = (time.perf_counter() - start) / few * 1e6
    return coral_us, csv_us, fsync_us


def _sweep_member(path: str, index: int, steps: int, ready: Any, times: Any) -> None:
    repo = Repository(path)
    weights = mlp(index)
    rng = np.random.default_rng(100 + index)
    params = {"lr": 10.0 ** -(index % 4 + 2), "index": index}
    with repo.start_run(f"run-{index}", params=params) as run:
        ready.wait()  # every process imported and ready: time the training loops only
        start = time.time()
        for step in range(steps):
            sgd_step(weights, rng)
            run.log({"loss": 1.0 / (step + 1) + index}, step=step)
            run.commit(weights, step=step)
        times.put((start, time.time()))


def _safetensors_member(folder: str, index: int, steps: int, ready: Any, times: Any) -> None:
    from safetensors.numpy import save_file

    weights = mlp(index)
    rng = np.random.default_rng(100 + index)
    ready.wait()
    start = time.time()
    for step in range(steps):
        sgd_step(weights, rng)
        save_file(weights, f"{folder}/run-{index}-step-{step}.safetensors")
    times.put((start, time.time()))


def _in_processes(target: Any, where: str, steps: int) -> float:
    """Steps per second of ``RUNS`` processes running ``target`` at once (from the first
    loop's start to the last one's end: process start-up is not counted)."""
    ctx = mp.get_context("spawn")
    ready, times = ctx.Barrier(RUNS), ctx.Queue()
    procs = [ctx.Process(target=target, args=(where, i, steps, ready, times)) for i in range(RUNS)]
    for p in procs:
        p.start()
    spans = [times.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
        assert p.exitcode == 0, p.exitcode
    return RUNS * steps / (max(e for _, e in spans) - min(s for s, _ in spans))


def parallel(work: Path, steps: int) -> tuple[float, float]:
    repo = Repository(work / "sweep", init=True)
    coral_rate = _in_processes(_sweep_member, str(repo.path), steps)
    fresh = Repository(repo.path)
    assert fresh.head.branch == "main" and fresh.head.commit_hash is None
    for index in range(RUNS):
        weights = mlp(index)
        rng = np.random.default_rng(100 + index)
        commits = list(reversed(fresh.log(branch=f"run-{index}")))
        assert len(commits) == steps
        for step, commit in enumerate(commits):
            sgd_step(weights, rng)
            meta = commit.metadata.extra["run"]
            assert meta["name"] == f"run-{index}" and meta["step"] == step
            assert meta["metrics"] == {"loss": [[step, 1.0 / (step + 1) + index]]}
            back = fresh.get_all_weights(commit.commit_hash)
            for name, array in weights.items():
                assert back[name].data.tobytes() == array.tobytes(), (index, step, name)
    assert fresh.fsck().ok
    folder = work / "st"
    folder.mkdir()
    return coral_rate, _in_processes(_safetensors_member, str(folder), steps)


def background(work: Path, mib: int) -> tuple[float, float, float]:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    per = mib // 8 * (1 << 20) // 4
    weights = {
        f"block{i}.weight": (rng.standard_normal(per) * 0.02).astype(np.float32) for i in range(8)
    }
    repo = Repository(work / "big", init=True)
    sync_times, call_times = [], []
    with repo.start_run("big") as run:
        run.commit(weights, step=0)  # the base the next commits are deltas against
        for step in range(1, 4):
            for array in weights.values():
                array[::97] += np.float32(1e-3)  # a training step changes every weight a bit
            start = time.perf_counter()
            if step % 2:
                run.commit(weights, step=step)
                sync_times.append(time.perf_counter() - start)
            else:
                run.commit(weights, step=step, background=True)
                call_times.append(time.perf_counter() - start)
                run.wait()
        for array in weights.values():
            array[::97] += np.float32(1e-3)
        start = time.perf_counter()
        run.commit(weights, step=4, background=True)
        call_times.append(time.perf_counter() - start)
        run.wait()
    start = time.perf_counter()
    save_file(weights, str(work / "big.safetensors"))
    st_time = time.perf_counter() - start
    back = repo.get_all_weights("big")
    for name, array in weights.items():
        assert back[name].data.tobytes() == array.tobytes(), name
    return min(sync_times), min(call_times), st_time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None, help="where to build (default: a temp dir)")
    parser.add_argument("--steps", type=int, default=20, help="steps per run of the sweep")
    parser.add_argument("--big-mib", type=int, default=512, help="size of the large model")
    parser.add_argument("--log-calls", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-runs-", dir=args.dir))
    try:
        coral_us, csv_us, fsync_us = log_overhead(work, args.log_calls)
        print("run.log per call")
        print(f"  coral run.log             {coral_us:8.1f} us   (target < 50 us)")
        print(f"  CSV line + flush          {csv_us:8.1f} us   ({coral_us / csv_us:.1f}x)")
        print(f"  CSV line + flush + fsync  {fsync_us:8.1f} us   ({coral_us / fsync_us:.2f}x)")
        coral_rate, st_rate = parallel(work, args.steps)
        cores = mp.cpu_count()
        print(f"\n{RUNS} runs from {RUNS} processes, {args.steps} steps each, on {cores} cores")
        print(f"  coral commits             {coral_rate:8.1f} /s  (all checked bit-exact, fsck ok)")
        print(f"  safetensors files         {st_rate:8.1f} /s  ({coral_rate / st_rate:.2f}x)")
        sync_s, call_s, st_s = background(work, args.big_mib)
        print(f"\nA {args.big_mib} MiB model (one commit after another, deltas)")
        print(f"  synchronous run.commit    {sync_s:8.2f} s")
        ratio = call_s / sync_s
        print(f"  background call returns   {call_s:8.2f} s   ({ratio:.2f}x; target <= 0.3x)")
        print(f"  safetensors save_file     {st_s:8.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
