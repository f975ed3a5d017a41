"""Checks on object metadata (a pack index entry, a remote blob's header) before it is
trusted: the dtype, the shape against the raw size, the codec, the bases and the sizes. Nothing
is allocated from metadata that fails them, so a damaged or hostile entry gives one clear
error instead of a ``MemoryError`` or a crash deep in a decoder.
"""

from __future__ import annotations

import math
from typing import Any

from coral.core.dtypes import dtype_from_name
from coral.core.object_id import is_object_id
from coral.errors import CoralError
from coral.storage.codecs import get_codec
from coral.storage.objects import ObjectInfo

MAX_OBJECT_BYTES = 64 << 30  # no single tensor object above 64 GiB is accepted
MAX_BASES = 16
MAX_DEPTH = 1000  # the largest core.max_delta_depth
MAX_DIMS = 32


def max_stored(raw_nbytes: int) -> int:
    """The largest payload an object of ``raw_nbytes`` may have (a codec that would grow it
    stores it raw, so payloads are never much larger than the tensor)."""
    return raw_nbytes + raw_nbytes // 8 + (1 << 20)


def checked_info(
    oid: str, data: Any, location: str = "", *, max_depth: int = MAX_DEPTH
) -> ObjectInfo:
    """``data`` (a dict of :meth:`ObjectInfo.to_dict` form) as an :class:`ObjectInfo`.

    Raises:
        ValueError: saying what is wrong, without naming the source (callers add that).
    """
    if not is_object_id(oid):
        raise ValueError(f"{oid[:80]!r} is not an object ID")
    if not isinstance(data, dict) or not isinstance(data.get("params", {}), dict):
        raise ValueError("its metadata is not a JSON object with codec parameters")
    shape, bases = data.get("shape"), data.get("bases", [])
    if not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise ValueError(f"its shape {str(shape)[:80]} is not a list of integers")
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ValueError("its delta bases are not a list of object IDs")
    try:
        info = ObjectInfo.from_dict(oid, data, location)
        dtype = dtype_from_name(info.dtype)
        get_codec(info.codec)
    except (CoralError, KeyError, TypeError, ValueError, OverflowError) as err:
        raise ValueError(f"its metadata is invalid ({err})") from None
    shape = info.shape
    if len(shape) > MAX_DIMS or any(d < 0 for d in shape):
        raise ValueError(f"its shape {shape} is invalid")
    expected_raw = math.prod(shape) * dtype.itemsize
    if info.raw_nbytes != expected_raw or info.raw_nbytes > MAX_OBJECT_BYTES:
        raise ValueError(f"its size {info.raw_nbytes} does not fit {info.dtype}{list(shape)}")
    if not 0 <= info.stored_nbytes <= max_stored(info.raw_nbytes):
        raise ValueError(f"its payload size {info.stored_nbytes} is out of range")
    bases = info.bases
    if len(bases) > MAX_BASES or not all(is_object_id(b) and b != oid for b in bases):
        raise ValueError("its delta bases are invalid")
    if bool(bases) != (info.depth > 0) or not 0 <= info.depth <= max_depth:
        raise ValueError(f"its delta depth {info.depth} is invalid")
    if info.offset < -1:
        raise ValueError(f"its offset {info.offset} is invalid")
    return info
