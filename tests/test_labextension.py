"""Packaging of the JupyterLab sidebar: built, installed where JupyterLab looks, enabled, in
the wheel, and of the same version as the server side it talks to."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from coral import __version__

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "labextension"
BUILT = ROOT / "coral_jupyter" / "labextension"

pytest.importorskip("jupyterlab")


def test_one_version_for_python_front_end_and_build() -> None:
    assert json.loads((SOURCE / "package.json").read_text())["version"] == __version__
    assert json.loads((BUILT / "package.json").read_text())["version"] == __version__


def test_the_build_is_newer_than_its_sources() -> None:
    built = (BUILT / "static" / "style.js").stat().st_mtime
    sources = [*SOURCE.glob("src/*.ts"), *SOURCE.glob("style/*"), SOURCE / "package.json"]
    stale = [p.name for p in sources if p.stat().st_mtime > built]
    assert not stale, f"rebuild the sidebar (cd labextension && jlpm build:prod): {stale}"


def test_jupyterlab_lists_the_sidebar_as_enabled() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "jupyterlab.labextensions", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    assert re.search(rf"coral-jupyter v{re.escape(__version__)} enabled\s+OK", text), text


def test_the_wheel_carries_the_built_sidebar_and_server_config(tmp_path: Path) -> None:
    # The built extension exists, so the build hook skips Node.js: a wheel in seconds.
    subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        check=True,
    )
    (wheel,) = tmp_path.glob("coral-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = f"coral-{__version__}.data/data/"
    extension = f"{data}share/jupyter/labextensions/coral-jupyter/"
    assert f"{extension}package.json" in names
    assert f"{extension}install.json" in names
    assert f"{extension}static/style.js" in names
    assert any(n.startswith(f"{extension}static/remoteEntry.") for n in names)
    assert f"{data}etc/jupyter/jupyter_server_config.d/coral_jupyter.json" in names
    assert "coral/_version.py" in names
    assert not any("node_modules" in n or n.endswith(".ts") for n in names)
