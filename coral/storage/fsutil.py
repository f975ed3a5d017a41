"""Durable file writes: temp file, fsync, atomic rename, fsync of the directory.

Every metadata file in ``.coral`` is written through :func:`atomic_write_bytes`, so a process
killed at any instant leaves either the old or the new file, never a torn one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO


def fsync_dir(path: Path) -> None:
    """Make a rename or file creation inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(target: Path, tmp_dir: Path | None = None) -> Path:
    """A unique temporary path on the same filesystem as ``target``."""
    directory = tmp_dir if tmp_dir is not None else target.parent
    return directory / f".{target.name}.{uuid.uuid4().hex}.tmp"


@contextmanager
def atomic_file(target: Path, *, tmp_dir: Path | None = None) -> Iterator[BinaryIO]:
    """Write ``target`` through a temp file that replaces it, fsynced, only when the block
    ends cleanly: readers see the old file or the whole new one, never a part."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path_for(target, tmp_dir)
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def atomic_write_bytes(target: Path, data: bytes, *, tmp_dir: Path | None = None) -> None:
    """Replace ``target`` with ``data`` atomically and durably."""
    with atomic_file(target, tmp_dir=tmp_dir) as fh:
        fh.write(data)


def dumps_json(data: Any) -> bytes:
    """Readable, deterministic JSON for files under ``.coral``."""
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def atomic_write_json(target: Path, data: Any, *, tmp_dir: Path | None = None) -> None:
    atomic_write_bytes(target, dumps_json(data), tmp_dir=tmp_dir)


def read_json(path: Path) -> Any:
    with open(path, "rb") as fh:
        return json.loads(fh.read())
