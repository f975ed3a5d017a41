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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """In a module marked ``disk_and_memory``, every test taking ``repo`` runs twice: on a
    repository on disk and on one in memory (``Repository.in_memory()``), unless it is marked
    ``disk_only`` (it reads files under ``.coral`` or reopens the path)."""
    node = metafunc.definition
    if (
        "repo" in metafunc.fixturenames
        and node.get_closest_marker("disk_and_memory")
        and not node.get_closest_marker("disk_only")
    ):
        metafunc.parametrize("repo", ["disk", "memory"], indirect=True)


@pytest.fixture
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Repository:
    """A new repository: on disk, or in memory where the test is parametrized so."""
    if getattr(request, "param", "disk") == "memory":
        return Repository.in_memory()
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


# Credentials the S3 tests run with: fake, but shaped like real ones, so a test can prove
# they never end up under .coral/.
FAKE_AWS_KEY_ID = "AKIACORALTESTKEY0001"
FAKE_AWS_SECRET = "coral/test+secret+never+stored+0123456789"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint on loopback: moto's server mode, one per test run."""
    pytest.importorskip("boto3")
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh, empty bucket on the loopback endpoint, with credentials in the environment
    (boto3's normal chain), as a user would have them."""
    import uuid

    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_AWS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"coral-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name
