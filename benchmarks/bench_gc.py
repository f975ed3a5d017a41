"""Garbage-collection benchmark: reclaim an abandoned learning-rate sweep from a real
all-MiniLM-L6-v2 training history, against what a user would do instead (``rm`` the sweep's
safetensors checkpoints).

main: the model and 8 AdamW steps at lr 1e-5, one commit per step. sweep: 6 steps at lr 1e-4
from the same start, on a branch that is then deleted. ``gc --dry-run`` reports what only the
sweep keeps alive; ``gc --prune=now --reflog-expire=now`` reclaims it. Every main commit is then
read back and compared byte for byte, and fsck must pass.

Usage: HF_HUB_OFFLINE=1 python benchmarks/bench_gc.py [--dir /tmp]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from bench_delta import train_run
from bench_remote import MiB, commit_run, safetensors_files, timed

from coral.version_control import Repository


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default=None, help="where to build (default: a temp dir)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-gc-", dir=args.dir))
    try:
        main_run = train_run(lr=1e-5, steps=8, seed=0)
        sweep_run = train_run(lr=1e-4, steps=6, seed=1)[1:]  # its start is main's first commit
        st_main = safetensors_files(main_run, work / "st" / "main")
        st_sweep = safetensors_files(sweep_run, work / "st" / "sweep")
        files_main = sum(p.stat().st_size for p in st_main)
        files_sweep = sum(p.stat().st_size for p in st_sweep)

        repo = Repository(work / "repo", init=True)
        commit_run(repo, main_run)
        repo.create_branch("sweep", f"main~{len(main_run) - 1}")
        repo.checkout("sweep")
        commit_run(repo, sweep_run)
        repo.checkout("main")
        before = folder_size(repo.coral_dir)
        dry_time, dry = timed(lambda: repo.gc(dry_run=True))
        sweep_only = dry.reclaimable["branch sweep"]
        repo.delete_branch("sweep", force=True)
        gc_time, report = timed(lambda: repo.gc(prune="now", reflog_expire="now"))
        after = folder_size(repo.coral_dir)

        fresh = Repository(repo.path)
        for step, snap in enumerate(main_run):
            weights = fresh.get_all_weights(f"main~{len(main_run) - 1 - step}")
            for name, array in snap.items():
                assert weights[name].data.tobytes() == array.tobytes(), (step, name)
        assert fresh.fsck().ok

        print(f"history: main {len(main_run)} checkpoints, sweep {len(sweep_run)} (deleted)")
        print("| | safetensors files | Coral |")
        print("|---|---|---|")
        print(
            f"| stored before | {(files_main + files_sweep) / MiB:.0f} MiB "
            f"| {before / MiB:.0f} MiB ({before / (files_main + files_sweep):.1%}) |"
        )
        print(
            f"| the sweep alone | {files_sweep / MiB:.0f} MiB "
            f"| {sweep_only / MiB:.0f} MiB (`gc --dry-run`, {dry_time:.2f} s) |"
        )
        print(
            f"| after reclaiming it | {files_main / MiB:.0f} MiB (`rm`) "
            f"| {after / MiB:.0f} MiB (`gc --prune=now`, {gc_time:.2f} s; "
            f"freed {report.bytes_freed / MiB:.0f} MiB; packs {report.packs_before} -> "
            f"{report.packs_after}) |"
        )
        print("every main commit read back bit-exact after gc; fsck OK")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
