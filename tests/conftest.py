"""Shared fixtures: a fresh repository per test, with a fixed identity."""

from __future__ import annotations

from pathlib import Path

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
