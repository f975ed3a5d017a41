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
import math
import struct
from pathlib import Path
from typing import Any

import numpy as np

from coral.core.dtypes import dtype_from_name
from coral.errors import CoralError, RemoteFormatError
from coral.remote.keys import is_object_id
from coral.storage.codecs import get_codec
from coral.storage.objects import ObjectInfo

MAGIC = b"CORAL-OBJECT/1\n"
_LENGTH = struct.Struct("<I")
MAX_HEADER = 1 << 20
MAX_OBJECT_BYTES = 64 << 30  # no single tensor object above 64 GiB is accepted
MAX_BASES = 16
MAX_DEPTH = 256
MAX_DIMS = 32


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
    return MAX_HEADER + len(MAGIC) + _LENGTH.size + _max_stored(raw_nbytes)


def _max_stored(raw_nbytes: int) -> int:
    return raw_nbytes + raw_nbytes // 8 + (1 << 20)


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
        data = json.loads(raw)
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
        info = ObjectInfo.from_dict(oid, data)
        dtype = dtype_from_name(info.dtype)
        get_codec(info.codec)
    except (CoralError, KeyError, TypeError, ValueError) as err:
        raise _bad(oid, f"its header is invalid ({err})") from None
    shape = info.shape
    if len(shape) > MAX_DIMS or any(d < 0 for d in shape):
        raise _bad(oid, f"its shape {shape} is invalid")
    expected_raw = math.prod(shape) * dtype.itemsize
    if info.raw_nbytes != expected_raw or info.raw_nbytes > MAX_OBJECT_BYTES:
        raise _bad(oid, f"its size {info.raw_nbytes} does not fit {info.dtype}{list(shape)}")
    if not 0 <= info.stored_nbytes <= _max_stored(info.raw_nbytes):
        raise _bad(oid, f"its payload size {info.stored_nbytes} is out of range")
    if not isinstance(data.get("params", {}), dict):
        raise _bad(oid, "its codec parameters are invalid")
    bases = info.bases
    if len(bases) > MAX_BASES or not all(is_object_id(b) and b != oid for b in bases):
        raise _bad(oid, "its delta bases are invalid")
    if bool(bases) != (info.depth > 0) or not 0 <= info.depth <= MAX_DEPTH:
        raise _bad(oid, f"its delta depth {info.depth} is invalid")
    return info


def read_payload(path: Path, offset: int, nbytes: int) -> np.ndarray:
    """The payload, mapped rather than read: verification and installation both use it,
    and the page cache serves the second pass."""
    if nbytes == 0:
        return np.empty(0, np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=(nbytes,))


def _bad(oid: str, why: str) -> RemoteFormatError:
    return RemoteFormatError(f"remote object {oid} is damaged: {why}; nothing was installed")
