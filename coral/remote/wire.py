"""One stored object as a remote blob: its metadata and its payload exactly as stored
(a delta stays a delta, so an incremental push sends kilobytes, not the whole tensor).

::

    b"CORAL-OBJECT/1\\n"  u32 little-endian header length  header JSON  payload

Everything in a header read from a remote is checked before it is trusted: the ID it claims,
the dtype, the shape against ``raw_nbytes``, the codec, the bases, and the payload size
against the blob's. The payload is then decoded and re-hashed (see :mod:`coral.remote.install`)
before anything is installed.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from coral.errors import RemoteFormatError
from coral.storage.fsutil import loads_json
from coral.storage.objects import ObjectInfo
from coral.storage.validation import checked_info, max_stored

MAGIC = b"CORAL-OBJECT/1\n"
_LENGTH = struct.Struct("<I")
MAX_HEADER = 1 << 20
MAX_DEPTH = 256  # deeper chains from a remote are refused (local ones are bounded by config)


def header_bytes(info: ObjectInfo) -> bytes:
    data = {"id": info.object_id, **info.to_dict()}
    data.pop("offset", None)
    header = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return MAGIC + _LENGTH.pack(len(header)) + header


def blob_size(info: ObjectInfo) -> int:
    return len(header_bytes(info)) + info.stored_nbytes


def max_blob_size(raw_nbytes: int) -> int:
    """The largest blob an object of ``raw_nbytes`` may come in (payloads are never much
    larger than the raw tensor: a codec that would grow it stores it raw)."""
    return MAX_HEADER + len(MAGIC) + _LENGTH.size + max_stored(raw_nbytes)


def read_header(path: Path, expected_oid: str) -> tuple[ObjectInfo, int]:
    """Parse and check the header of a downloaded object blob. Returns the object's info and
    the payload's offset in the file; raises :class:`RemoteFormatError` naming the object."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        start = fh.read(len(MAGIC) + _LENGTH.size)
        if len(start) < len(MAGIC) + _LENGTH.size or not start.startswith(MAGIC):
            raise _bad(expected_oid, "it is not a Coral object blob (truncated or foreign)")
        (length,) = _LENGTH.unpack(start[len(MAGIC) :])
        if length > MAX_HEADER:
            raise _bad(expected_oid, f"its header claims {length} bytes")
        raw = fh.read(length)
    if len(raw) != length:
        raise _bad(expected_oid, "its header is truncated")
    try:
        data = loads_json(raw)
    except ValueError:
        raise _bad(expected_oid, "its header is not JSON") from None
    offset = len(MAGIC) + _LENGTH.size + length
    info = _check_header(data, expected_oid)
    if size - offset != info.stored_nbytes:
        raise _bad(
            expected_oid,
            f"its payload is {size - offset} bytes where its header says {info.stored_nbytes}",
        )
    return info, offset


def _check_header(data: Any, oid: str) -> ObjectInfo:
    if not isinstance(data, dict) or data.get("id") != oid:
        raise _bad(oid, "its header names another object")
    try:
        return checked_info(oid, data, max_depth=MAX_DEPTH)
    except ValueError as err:
        raise _bad(oid, str(err)) from None


def read_payload(path: Path, offset: int, nbytes: int) -> np.ndarray:
    """The payload, mapped rather than read: verification and installation both use it,
    and the page cache serves the second pass."""
    if nbytes == 0:
        return np.empty(0, np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(nbytes,))


def _bad(oid: str, why: str) -> RemoteFormatError:
    return RemoteFormatError(f"remote object {oid} is damaged: {why}; nothing was installed")
