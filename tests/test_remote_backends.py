"""One conformance suite for every remote backend: in memory, a folder (file://) and S3 on a
real loopback endpoint (moto's server mode)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from coral.errors import RemoteError, RemoteNotFoundError
from coral.remote.backend import Backend, PreconditionFailed, RemoteKeyNotFound
from coral.remote.config import open_backend


@pytest.fixture(params=["memory", "file", "s3", "minio"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    kind = request.param
    if kind == "memory":
        url = f"memory://suite-{uuid.uuid4().hex[:8]}/x"
    elif kind == "file":
        url = f"file://{tmp_path / 'remote'}"
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        host = endpoint.removeprefix("http://")
        url = (
            f"s3://{bucket}/team/models?endpoint={endpoint}"
            if kind == "s3"
            else f"minio://{host}/{bucket}/team?secure=false"
        )
    b = open_backend(url)
    yield b
    b.close()


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


def test_put_get_exists(backend: Backend) -> None:
    assert not backend.exists("objects/ab/x")
    backend.put("objects/ab/x", b"hello")
    assert backend.exists("objects/ab/x")
    assert backend.get("objects/ab/x", 100).data == b"hello"
    backend.put("objects/ab/x", b"again")  # immutable keys are re-put with the same bytes
    assert backend.get("objects/ab/x", 100).data == b"again"
    with pytest.raises(RemoteKeyNotFound):
        backend.get("objects/ab/missing", 100)


def test_size_caps_are_checked_before_reading(backend: Backend, tmp_path: Path) -> None:
    backend.put("big", b"x" * 1000)
    with pytest.raises(RemoteError, match="larger than"):
        backend.get("big", 999)
    with pytest.raises(RemoteError, match="larger than"):
        backend.get_to_file("big", tmp_path / "out", 999)
    assert backend.get_to_file("big", tmp_path / "out", 1000) == 1000
    assert (tmp_path / "out").read_bytes() == b"x" * 1000


def test_files_round_trip_in_parts(backend: Backend, tmp_path: Path) -> None:
    from coral.remote.s3 import S3Backend

    if isinstance(backend, S3Backend):  # parts of S3's smallest size, to have several
        backend = S3Backend(backend.spec, multipart_threshold=5 << 20, part_size=5 << 20)
    data = bytes(range(256)) * (80 << 10)  # 20 MiB: four multipart parts up and down on S3
    source = tmp_path / "source"
    source.write_bytes(data)
    backend.put_file("objects/cd/big", source)
    assert backend.get_to_file("objects/cd/big", tmp_path / "back", len(data)) == len(data)
    assert (tmp_path / "back").read_bytes() == data


def test_compare_and_swap(backend: Backend) -> None:
    first = backend.put_if("refs/heads/main", b"1", etag=None)
    with pytest.raises(PreconditionFailed):
        backend.put_if("refs/heads/main", b"2", etag=None)  # exists already
    with pytest.raises(PreconditionFailed):
        backend.put_if("refs/heads/main", b"2", etag="not-the-etag")
    blob = backend.get("refs/heads/main", 100)
    assert blob.etag == first and blob.data == b"1"
    second = backend.put_if("refs/heads/main", b"2", etag=first)
    with pytest.raises(PreconditionFailed):
        backend.put_if("refs/heads/main", b"3", etag=first)  # stale
    with pytest.raises(PreconditionFailed):
        backend.delete_if("refs/heads/main", etag=first)
    backend.delete_if("refs/heads/main", etag=second)
    assert not backend.exists("refs/heads/main")


def test_only_one_of_racing_writers_wins(backend: Backend) -> None:
    start = backend.put_if("refs/heads/race", b"0", etag=None)
    wins: list[int] = []
    barrier = threading.Barrier(6)

    def writer(n: int) -> None:
        barrier.wait()
        try:
            backend.put_if("refs/heads/race", str(n).encode(), etag=start)
            wins.append(n)
        except PreconditionFailed:
            pass

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert backend.get("refs/heads/race", 10).data == str(wins[0]).encode()


def test_list_by_prefix(backend: Backend) -> None:
    for key in ["refs/heads/main", "refs/heads/team/exp", "tags/v1.json", "objects/ab/cd"]:
        backend.put(key, b"{}")
    assert sorted(backend.list("refs/heads/")) == ["refs/heads/main", "refs/heads/team/exp"]
    assert sorted(backend.list("")) == sorted(
        ["objects/ab/cd", "refs/heads/main", "refs/heads/team/exp", "tags/v1.json"]
    )
    assert list(backend.list("nothing/")) == []


def test_conditional_writes_on_a_missing_key_fail_as_preconditions(backend: Backend) -> None:
    with pytest.raises(PreconditionFailed):
        backend.put_if("refs/heads/gone", b"1", etag="an-old-etag")
    with pytest.raises(PreconditionFailed):
        backend.delete_if("refs/heads/gone", etag="an-old-etag")


def test_a_key_can_replace_a_deleted_folder_of_keys(backend: Backend) -> None:
    etag = backend.put_if("refs/heads/feature/x", b"1", etag=None)
    backend.delete_if("refs/heads/feature/x", etag=etag)
    backend.put_if("refs/heads/feature", b"2", etag=None)  # no folder left in the way
    assert backend.get("refs/heads/feature", 10).data == b"2"


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


def test_delete_is_idempotent(backend: Backend) -> None:
    backend.put("objects/ab/gone", b"x")
    backend.delete("objects/ab/gone")
    assert not backend.exists("objects/ab/gone")
    backend.delete("objects/ab/gone")  # again: nothing to do, no error
    backend.delete("never/there")


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
