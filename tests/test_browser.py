"""The widgets in a real JupyterLab, driven by headless Chromium (Debian's ``chromium``,
never a downloaded browser): open a notebook, run it, click a commit node / a tensor bar, and
check that the kernel-side callback updated the page.

``CORAL_UPDATE_SCREENSHOTS=1`` writes the screenshots into ``docs/images/`` (the README's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.lab_browser import (  # noqa: F401 (fixtures)
    browser_marks,
    click_center,
    jp_asyncio_loop,
    jp_server_cleanup,
    open_notebook,
    screenshot,
    write_notebook,
)

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("plotly")
pytestmark = browser_marks

SETUP = """
import numpy as np
from coral.version_control import Repository

repo = Repository("{name}_repo", init=True)  # one repository per notebook
rng = np.random.default_rng(0)
w = {{
    "encoder.weight": rng.standard_normal((64, 48)).astype(np.float32),
    "encoder.bias": np.zeros(48, np.float32),
    "head.weight": rng.standard_normal((48, 8)).astype(np.float32),
}}
repo.stage_weights(w)
repo.commit("baseline", metrics={{"loss": 1.2}})
repo.create_branch("low-lr")
repo.stage_weights({{"head.weight": w["head.weight"] * 1.01}}, partial=True)
repo.commit("main epoch 2", metrics={{"loss": 0.9}})
repo.checkout("low-lr")
update = np.outer(rng.standard_normal(64), rng.standard_normal(48)).astype(np.float32)
repo.stage_weights({{"encoder.weight": w["encoder.weight"] + 0.05 * update}}, partial=True)
repo.commit("low-lr epoch 2")
repo.tag_version("v-low", "low learning rate", {{"loss": 0.8, "accuracy": 0.91}})
repo.checkout("main")
repo.merge("low-lr", strategy="average")
"""


def _notebook(path: Path, cells: list[str]) -> None:
    write_notebook(path, [SETUP.format(name=path.stem), *cells])


def _output(page: Any) -> Any:
    """The last cell's output area: the widget under test."""
    return page.locator(".jp-Cell-outputArea").last


def test_clicking_a_commit_node_shows_it_in_the_side_panel(
    lab: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, root = lab
    _notebook(
        root / "dag.ipynb",
        ["from coral_jupyter.widgets import DagExplorer\nexplorer = DagExplorer(repo)\nexplorer"],
    )
    page = open_notebook(browser, url, "dag.ipynb", run_all=True)
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace .point", timeout=90_000)
        page.wait_for_function(
            "() => document.body.innerText.includes('Click a commit to see it here')",
            timeout=30_000,
        )
        # Marker traces are drawn in branch order: "low-lr" first; its only point is the
        # commit "low-lr epoch 2".
        click_center(page, ".js-plotly-plot .scatterlayer .trace:nth-child(2) .point")
        page.wait_for_function(
            "() => document.body.innerText.includes('low-lr epoch 2') &&"
            " document.body.innerText.includes('tag: v-low')",
            timeout=30_000,
        )
        screenshot(_output(page), "dag_explorer.png", tmp_path)
    finally:
        page.close()


def test_selecting_a_tensor_in_the_diff_viewer(
    lab: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, root = lab
    _notebook(
        root / "diff.ipynb",
        [
            "from coral_jupyter.widgets import DiffViewer\n"
            "viewer = DiffViewer(repo, 'main~2', 'main')\n"
            "viewer.hide_unchanged.value = False\n"
            "viewer",
        ],
    )
    page = open_notebook(browser, url, "diff.ipynb", run_all=True)
    try:
        page.wait_for_selector(".js-plotly-plot .barlayer .point", timeout=90_000)
        # Bars are drawn bottom-up, least changed first: encoder.bias (unchanged),
        # head.weight, encoder.weight (the one the viewer opened with). Click head.weight.
        click_center(page, ".js-plotly-plot .barlayer .point >> nth=1")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-html-content')]"
            ".some(e => e.innerText.trim().startsWith('head.weight'))",
            timeout=30_000,
        )
        page.wait_for_timeout(1000)  # let the heatmaps draw before the screenshot
        screenshot(_output(page), "diff_viewer.png", tmp_path)
    finally:
        page.close()


def test_metrics_plot_renders(lab: tuple[str, Path], browser: Any, tmp_path: Path) -> None:
    url, root = lab
    _notebook(
        root / "metrics.ipynb",
        ["from coral_jupyter.widgets import MetricsPlot\nMetricsPlot(repo)"],
    )
    page = open_notebook(browser, url, "metrics.ipynb", run_all=True)
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace .point", timeout=90_000)
        page.wait_for_timeout(500)
        screenshot(_output(page), "metrics.png", tmp_path)
    finally:
        page.close()


def test_the_runs_table_renders(lab: tuple[str, Path], browser: Any, tmp_path: Path) -> None:
    url, root = lab
    _notebook(
        root / "runs.ipynb",
        [
            "import math\n"
            "for lr in (3e-4, 1e-3):\n"
            "    with repo.start_run(f'lr-{lr:g}', params={'lr': lr, 'batch': 32}) as run:\n"
            "        for step in range(3):\n"
            "            run.log({'loss': 1 / (step + 1) if lr < 1e-3 else math.nan}, step=step)\n"
            "        run.commit(w, step=2)",
            "%load_ext coral_jupyter\n%coral open runs_repo\n%coral runs",
        ],
    )
    page = open_notebook(browser, url, "runs.ipynb", run_all=True)
    try:
        page.wait_for_function(
            "() => document.body.innerText.includes('lr-0.001') &&"
            " document.body.innerText.includes('loss (min / last)')",
            timeout=90_000,
        )
        screenshot(_output(page), "runs_table.png", tmp_path)
    finally:
        page.close()


def test_the_run_comparison_renders(lab: tuple[str, Path], browser: Any, tmp_path: Path) -> None:
    url, root = lab
    _notebook(
        root / "compare.ipynb",
        [
            "for name, lr in (('lr-a', 0.01), ('lr-b', 0.001)):\n"
            "    with repo.start_run(name, params={'lr': lr, 'batch': 32}) as run:\n"
            "        for step in range(5):\n"
            "            run.log({'loss': 1 / (step + 1) + lr * step}, step=step)\n"
            "        run.commit({**w, 'head.weight': w['head.weight'] * (1 + lr)})",
            "from coral_jupyter.widgets import RunComparison\n"
            "view = RunComparison(repo, 'lr-a', 'lr-b')\nview.preview_merge()\nview",
        ],
    )
    page = open_notebook(browser, url, "compare.ipynb", run_all=True)
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=90_000)
        page.wait_for_function(
            "() => document.body.innerText.includes('lr-a vs lr-b') &&"
            " document.body.innerText.includes('Merge base')",
            timeout=60_000,
        )
        page.wait_for_timeout(500)
        screenshot(_output(page), "run_comparison.png", tmp_path)
    finally:
        page.close()
