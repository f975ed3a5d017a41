"""The README's Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, s3_bucket: str
) -> None:
    pytest.importorskip("torch")
    import boto3

    # The remotes example talks to "s3://team-bucket/...": the loopback S3 endpoint, reached
    # the way a user points boto3 at one.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    boto3.client("s3").create_bucket(Bucket="team-bucket")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)


def test_the_example_script_runs(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    script = README.parent / "examples" / "quickstart.py"
    subprocess.run([sys.executable, str(script), str(tmp_path / "repo")], check=True, timeout=300)
