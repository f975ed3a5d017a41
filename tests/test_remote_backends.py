"""The remote backend conformance suite (:class:`coral.testing.remote.BackendTests`), run once
per backend: in memory (handed in: it has no URL), a folder (file://), S3 and MinIO on a real
loopback endpoint (moto's server mode); and what only some backends do (missing folders and
buckets, links out of a remote folder)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coral.errors import RemoteError, RemoteNotFoundError
from coral.remote.backend import Backend
from coral.remote.memory import MemoryBackend
from coral.remote.url import open_backend
from coral.testing.remote import BackendTests


class TestMemoryBackend(BackendTests):
    def make_backend(self, tmp_path: Path) -> Backend:
        return MemoryBackend()  # handed in: no URL names it


class TestFileBackend(BackendTests):
    def make_backend(self, tmp_path: Path) -> Backend:
        return open_backend(f"file://{tmp_path / 'remote'}")


class TestS3Backend(BackendTests):
    @pytest.fixture
    def backend(self, s3_endpoint: str, s3_bucket: str) -> Iterator[Backend]:
        backend = open_backend(f"s3://{s3_bucket}/team/models?endpoint={s3_endpoint}")
        yield backend
        backend.close()

    def with_small_parts(self, backend: Backend) -> Backend:
        from coral.remote.s3 import S3Backend

        assert isinstance(backend, S3Backend)  # parts of S3's smallest size, to have several
        return S3Backend(backend.spec, multipart_threshold=5 << 20, part_size=5 << 20)


class TestMinioBackend(TestS3Backend):
    @pytest.fixture
    def backend(self, s3_endpoint: str, s3_bucket: str) -> Iterator[Backend]:
        host = s3_endpoint.removeprefix("http://")
        backend = open_backend(f"minio://{host}/{s3_bucket}/team?secure=false")
        yield backend
        backend.close()


def missing_remote_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of ``kind`` ("file", "s3", "minio") whose folder or bucket does not exist."""
    if kind == "file":
        return f"file://{tmp_path / 'no-such-folder'}"
    endpoint = request.getfixturevalue("s3_endpoint")
    request.getfixturevalue("s3_bucket")  # for the credentials it puts in the environment
    bucket = f"coral-missing-{uuid.uuid4().hex[:8]}"
    if kind == "s3":
        return f"s3://{bucket}/team?endpoint={endpoint}"
    return f"minio://{endpoint.removeprefix('http://')}/{bucket}/team?secure=false"


@pytest.fixture(params=["file", "s3", "minio"])
def missing(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    b = open_backend(missing_remote_url(request.param, request, tmp_path))
    yield b
    b.close()


def test_a_file_remote_refuses_special_files_and_links_out(tmp_path: Path) -> None:
    import os

    from coral.remote.file import FileBackend

    root = tmp_path / "remote"
    backend = FileBackend(root)
    backend.put("objects/aa/ok", b"fine")
    os.mkfifo(root / "objects" / "aa" / "fifo")
    with pytest.raises(RemoteError, match="not a regular file"):
        backend.get("objects/aa/fifo", 100)  # would block forever if opened blindly
    os.symlink("/dev/zero", root / "objects" / "aa" / "zero")
    with pytest.raises(RemoteError):
        backend.get("objects/aa/zero", 100)
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "tags")
    with pytest.raises(RemoteError, match="outside the remote folder"):
        backend.put("tags/evil.json", b"{}")
    assert list(outside.iterdir()) == []


def test_reading_a_missing_folder_or_bucket_says_so(missing: Backend, tmp_path: Path) -> None:
    reads = [
        lambda: missing.get("coral-remote.json", 100),
        lambda: missing.get_to_file("objects/ab/x", tmp_path / "out", 100),
        lambda: list(missing.list("refs/heads/")),
    ]
    for read in reads:  # not "no such key": an empty remote and a typo must differ
        with pytest.raises(RemoteNotFoundError, match="does not exist") as raised:
            read()
        assert isinstance(raised.value, FileNotFoundError)
    assert not missing.exists("coral-remote.json")


def test_a_write_creates_a_missing_folder_but_never_a_bucket(missing: Backend) -> None:
    from coral.remote.file import FileBackend

    if isinstance(missing, FileBackend):
        missing.put_if("coral-remote.json", b"{}", etag=None)
        assert missing.root.is_dir() and list(missing.list("")) == ["coral-remote.json"]
        return
    with pytest.raises(RemoteNotFoundError, match="create the bucket first"):
        missing.put_if("coral-remote.json", b"{}", etag=None)
    with pytest.raises(RemoteNotFoundError):
        missing.put("objects/ab/x", b"x")
