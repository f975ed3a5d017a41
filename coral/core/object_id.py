"""Content identity of a stored tensor.

An object ID is the xxh3-128 digest (32 hex digits) of a small header naming the dtype and
shape, followed by the tensor's canonical bytes. The same values under another dtype or shape
get another ID. The bytes are hashed through a view, without copying.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import xxhash

from coral.core.dtypes import as_buffer

_OBJECT_ID = re.compile(r"[0-9a-f]{32}")


def is_object_id(text: object) -> bool:
    """Exactly 32 lowercase hex digits (no trailing newline, unlike ``re.match(...$)``)."""
    return isinstance(text, str) and _OBJECT_ID.fullmatch(text) is not None


def _header(dtype_name: str, shape: Sequence[int]) -> bytes:
    dims = ",".join(str(int(d)) for d in shape)
    return f"coral-tensor/1\0{dtype_name}\0({dims})\0".encode()


class ObjectHasher:
    """The object ID computed incrementally: feed the canonical bytes in order."""

    def __init__(self, dtype_name: str, shape: Sequence[int]) -> None:
        self._digest = xxhash.xxh3_128(_header(dtype_name, shape))

    def update(self, block: np.ndarray) -> None:
        """Add the next C-contiguous run of the tensor's bytes."""
        self._digest.update(as_buffer(block))

    def hexdigest(self) -> str:
        return str(self._digest.hexdigest())


def object_id(canonical: np.ndarray, dtype_name: str) -> str:
    """Return the object ID of a canonical (C-contiguous, little-endian) array."""
    hasher = ObjectHasher(dtype_name, canonical.shape)
    hasher.update(canonical)
    return hasher.hexdigest()
