"""A real JupyterLab and Debian's headless Chromium for the browser tests (never a
downloaded browser), plus the page helpers those tests share. The fixtures built on these
live in ``conftest.py``."""

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

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IMAGES = Path(__file__).resolve().parents[1] / "docs" / "images"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Applied by the browser test modules: skipped without chromium, marked slow.
browser_marks = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_lab(root: Path) -> Iterator[str]:
    """JupyterLab serving ``root`` on a free loopback port, without a token; yields its URL."""
    port = _free_port()
    settings = root.parent / f"{root.name}-settings"
    # No "get notified about news?" toast over the widgets in screenshots.
    news = settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
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
            f"--LabApp.user_settings_dir={settings}",
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
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def write_notebook(path: Path, cells: list[str]) -> None:
    """An .ipynb of code cells (written to disk: typing code into cells breaks indentation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    notebook = {
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
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def open_notebook(browser: Any, url: str, path: str, *, run_all: bool = False) -> Any:
    """A new page with the notebook at ``path`` (relative to the lab root) open and its kernel
    idle; ``run_all`` then runs every cell."""
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    # A workspace of its own, reset: JupyterLab would otherwise reopen the notebooks of the
    # previous test and run whichever of them has the focus.
    workspace = path.replace("/", "-").removesuffix(".ipynb")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/{path}?reset")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook", timeout=60_000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
        timeout=60_000,
    )
    if run_all:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page


def click_center(page: Any, selector: str) -> None:
    """Move to the centre of the first match, then click (what plotly's hit-testing needs)."""
    point = page.locator(selector).first
    point.wait_for(timeout=60_000)
    box = point.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def screenshot(locator: Any, name: str, tmp: Path) -> None:
    """Into ``docs/images/`` when ``CORAL_UPDATE_SCREENSHOTS=1`` (the README's), else ``tmp``."""
    target = IMAGES if os.environ.get("CORAL_UPDATE_SCREENSHOTS") == "1" else tmp
    target.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(target / name))


# pytest-jupyter (loaded for test_server.py) adds autouse fixtures to every test that open,
# run and close an asyncio loop in the main thread; playwright's sync API keeps its own loop
# running there while a browser is open. Browser test modules import these no-op overrides.
@pytest.fixture
def jp_asyncio_loop() -> Iterator[None]:
    yield None


@pytest.fixture
def jp_server_cleanup() -> Iterator[None]:
    yield None
