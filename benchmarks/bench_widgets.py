"""Notebook widget benchmark: the DAG explorer on a 1,000-commit history, the diff viewer on a
4096x4096 tensor.

Targets (issue #6): 1,000 commits build and render in under a second of Python time; a
4096x4096 tensor opens in the diff viewer in about a second. "Render" here is everything the
kernel does: building the Plotly figure and serialising it for the browser (``to_json``). The
one-time cost of the first ``FigureWidget`` in a kernel (Plotly loading its widget bundle) is
reported separately.

Usage: python benchmarks/bench_widgets.py [--commits 1000] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from coral.version_control import Repository


def build_history(root: Path, commits: int) -> Repository:
    """A main line with a feature branch merged back every 50 commits, a tag with metrics
    every 100."""
    repo = Repository(root, init=True)
    weight = {"w": np.zeros(4, np.float32)}
    n = 0
    while n < commits:
        repo.stage_weights({"w": np.full(4, n, np.float32)})
        repo.commit(f"step {n}", metrics={"loss": 1.0 / (n + 1)})
        n += 1
        if n % 50 == 0 and n < commits - 6:
            name = f"feature-{n}"
            repo.create_branch(name)
            repo.checkout(name)
            for i in range(5):
                repo.stage_weights({"w": np.full(4, -n - i, np.float32)})
                repo.commit(f"{name} {i}")
                n += 1
            repo.checkout("main")
            repo.merge(name, strategy="theirs")
            n += 1
        if n % 100 == 0:
            repo.tag_version(f"v{n}", metrics={"accuracy": n / commits})
    del weight
    return repo


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()

    import plotly.graph_objects as go

    from coral_jupyter.widgets import DagExplorer, DagModel, DiffViewer

    start = time.perf_counter()
    go.FigureWidget()
    first_widget = time.perf_counter() - start

    scratch = Path(tempfile.mkdtemp(prefix="coral-widgets-", dir=args.dir))
    try:
        start = time.perf_counter()
        repo = build_history(scratch / "history", args.commits)
        built = time.perf_counter() - start
        count = len(repo.version_graph.commits())
        print(
            f"history: {count} commits, {len(repo.branch_manager.list_branches())} branches, "
            f"{len(repo.list_versions())} tags (built in {built:.1f} s)"
        )
        print(f"first FigureWidget in a kernel (one-time): {first_widget:.2f} s")

        model = timed(lambda: DagModel.build(repo))
        explorer_box: list[DagExplorer] = []

        def open_explorer() -> None:
            explorer_box[:] = [DagExplorer(repo)]
            explorer_box[0].figure.to_json()

        opened = timed(open_explorer)
        explorer = explorer_box[0]
        refresh = timed(lambda: (explorer.refresh(), explorer.figure.to_json()))
        select = timed(lambda: explorer.select_commit("main~10"))
        payload = len(explorer.figure.to_json())
        print("\nDAG explorer (median of 5):")
        print(f"  layout (DagModel.build)                 {model * 1000:7.0f} ms")
        print(f"  open: build + draw + serialise          {opened * 1000:7.0f} ms  (target < 1000)")
        print(f"  refresh in place + serialise            {refresh * 1000:7.0f} ms")
        print(f"  select a commit (side panel)            {select * 1000:7.0f} ms")
        print(f"  figure payload                          {payload / 1024:7.0f} KiB")

        big = Repository(scratch / "big", init=True)
        rng = np.random.default_rng(0)
        a = rng.standard_normal((4096, 4096)).astype(np.float32)
        low_rank = rng.standard_normal((4096, 4)) @ rng.standard_normal((4, 4096))
        big.stage_weights({"w": a})
        big.commit("A")
        big.stage_weights({"w": (a + 1e-3 * low_rank).astype(np.float32)})
        big.commit("B")
        viewer_box: list[DiffViewer] = []

        def open_viewer() -> None:
            viewer_box[:] = [DiffViewer(big, "HEAD~1", "HEAD")]  # selects "w"
            viewer_box[0].detail.to_json()

        viewer_time = timed(open_viewer, repeat=3)
        numbers = viewer_box[0].numbers
        cells = sum(np.asarray(t.z).size for t in viewer_box[0].detail.data if t.type == "heatmap")
        print("\nDiff viewer, 4096x4096 float32 with a rank-4 change (median of 3):")
        print(f"  open + select + serialise   {viewer_time * 1000:7.0f} ms  (target ~1000)")
        print(f"  heatmap cells sent                      {cells:7d}")
        if numbers is not None:
            print(f"  effective rank of the change            {numbers.effective_rank:7.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
