"""The widgets in a real JupyterLab, driven by headless Chromium (Debian's ``chromium``,
never a downloaded browser): open a notebook, run it, click a commit node / a tensor bar, and
check that the kernel-side callback updated the page.

``CORAL_UPDATE_SCREENSHOTS=1`` writes the screenshots into ``docs/images/`` (the README's).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("plotly")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed"),
]

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

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
repo.stage_weights({{"head.weight": w["head.weight"] * 1.01}})
repo.commit("main epoch 2", metrics={{"loss": 0.9}})
repo.checkout("low-lr")
update = np.outer(rng.standard_normal(64), rng.standard_normal(48)).astype(np.float32)
repo.stage_weights({{"encoder.weight": w["encoder.weight"] + 0.05 * update}})
repo.commit("low-lr epoch 2")
repo.tag_version("v-low", "low learning rate", {{"loss": 0.8, "accuracy": 0.91}})
repo.checkout("main")
repo.merge("low-lr", strategy="average")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("lab")
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            f"--port={port}",
            "--ServerApp.ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.expose_app_in_browser=True",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("JupyterLab did not start") from None
                time.sleep(0.5)
        yield url, root
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=_ARGS)
        yield chromium
        chromium.close()


def _notebook(path: Path, cells: list[str]) -> None:
    cells = [SETUP.format(name=path.stem), *cells]
    path.write_text(
        json.dumps(
            {
                "cells": [
                    {
                        "cell_type": "code",
                        "metadata": {},
                        "source": c,
                        "outputs": [],
                        "execution_count": None,
                    }
                    for c in cells
                ],
                "metadata": {
                    "kernelspec": {
                        "name": "python3",
                        "display_name": "Python 3",
                        "language": "python",
                    }
                },
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )


def _open_and_run(browser: Any, url: str, name: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    # A workspace of its own, reset: JupyterLab would otherwise reopen the notebooks of the
    # previous test and run whichever of them has the focus.
    page.goto(f"{url}/lab/workspaces/{Path(name).stem}/tree/{name}?reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    # The kernel must be ready before "run all" means anything.
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
        timeout=60_000,
    )
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def _click_point(page: Any, selector: str) -> None:
    point = page.locator(selector).first
    point.wait_for(timeout=60_000)
    box = point.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def _screenshot(page: Any, name: str, tmp: Path) -> None:
    """The widget's output area alone (the last cell's)."""
    target = IMAGES if os.environ.get("CORAL_UPDATE_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    # JupyterLab's "get notified about news?" toast would cover the widget.
    with contextlib.suppress(playwright_api.Error):
        page.get_by_role("button", name="No").click(timeout=2000)
    output = page.locator(".jp-Cell-outputArea").last
    output.scroll_into_view_if_needed()
    output.screenshot(path=str(target / name))


def test_clicking_a_commit_node_shows_it_in_the_side_panel(
    lab: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, root = lab
    _notebook(
        root / "dag.ipynb",
        ["from coral_jupyter.widgets import DagExplorer\nexplorer = DagExplorer(repo)\nexplorer"],
    )
    page = _open_and_run(browser, url, "dag.ipynb")
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace .point", timeout=90_000)
        page.wait_for_function(
            "() => document.body.innerText.includes('Click a commit to see it here')",
            timeout=30_000,
        )
        # Marker traces are drawn in branch order: "low-lr" first; its only point is the
        # commit "low-lr epoch 2".
        _click_point(page, ".js-plotly-plot .scatterlayer .trace:nth-child(2) .point")
        page.wait_for_function(
            "() => document.body.innerText.includes('low-lr epoch 2') &&"
            " document.body.innerText.includes('tag v-low')",
            timeout=30_000,
        )
        _screenshot(page, "dag_explorer.png", tmp_path)
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
    page = _open_and_run(browser, url, "diff.ipynb")
    try:
        page.wait_for_selector(".js-plotly-plot .barlayer .point", timeout=90_000)
        # Bars are drawn bottom-up, least changed first: encoder.bias (unchanged),
        # head.weight, encoder.weight (the one the viewer opened with). Click head.weight.
        _click_point(page, ".js-plotly-plot .barlayer .point >> nth=1")
        page.wait_for_function(
            "() => [...document.querySelectorAll('.widget-html-content')]"
            ".some(e => e.innerText.trim().startsWith('head.weight'))",
            timeout=30_000,
        )
        page.wait_for_timeout(1000)  # let the heatmaps draw before the screenshot
        _screenshot(page, "diff_viewer.png", tmp_path)
    finally:
        page.close()


def test_metrics_plot_renders(lab: tuple[str, Path], browser: Any, tmp_path: Path) -> None:
    url, root = lab
    _notebook(
        root / "metrics.ipynb",
        ["from coral_jupyter.widgets import MetricsPlot\nMetricsPlot(repo)"],
    )
    page = _open_and_run(browser, url, "metrics.ipynb")
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace .point", timeout=90_000)
        page.wait_for_timeout(500)
        _screenshot(page, "metrics.png", tmp_path)
    finally:
        page.close()
