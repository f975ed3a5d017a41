"""Shared fixtures: a fresh repository per test, with a fixed identity; JupyterLab and headless
Chromium for the browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from coral.version_control import Repository


@pytest.fixture(autouse=True)
def _fixed_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the machine's git identity."""
    monkeypatch.setenv("CORAL_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("CORAL_AUTHOR_EMAIL", "test@example.com")


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    return Repository(tmp_path / "project", init=True)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real JupyterLab for a module's browser tests: (its URL, its root folder). Per module,
    so the kernels its notebooks started stop with it."""
    from tests.lab_browser import running_lab

    root = tmp_path_factory.mktemp("lab")
    with running_lab(root) as url:
        yield url, root


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium, driven by Python playwright. Per module: playwright's sync
    API keeps an asyncio loop running in the main thread while it is open, which would break
    every later test that runs its own loop (pytest-jupyter's, nbclient's)."""
    from playwright.sync_api import sync_playwright

    from tests.lab_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
