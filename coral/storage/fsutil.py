"""Durable file writes: temp file, fsync, atomic rename, fsync of the directory; and the
one strict JSON reader.

Every metadata file in ``.coral`` is written through :func:`atomic_write_bytes`, so a process
killed at any instant leaves either the old or the new file, never a torn one. Every JSON
document Coral reads (its own files, a remote's, a safetensors header) goes through
:func:`loads_json`, which bounds what a damaged or hostile one can cost.
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


MAX_JSON_BYTES = 64 << 20


def read_json(path: Path, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A JSON file, parsed by :func:`loads_json` (ValueError when it breaks a rule)."""
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(f"it is larger than {max_bytes} bytes")
    return loads_json(data)


def loads_json(data: bytes | str) -> Any:
    """Strict JSON: no duplicate keys, no NaN or Infinity, no nesting deep enough to exhaust
    the stack, integers of at most 4300 digits (Python's limit). Breaking any rule raises
    ValueError saying which."""
    try:
        return json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key[:80]!r} appears twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
