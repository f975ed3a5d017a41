"""Arrays for tests: hypothesis strategies over every dtype Coral stores, with nasty bit
patterns, and the one equality Coral accepts (:func:`assert_bit_exact`)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from coral.core.dtypes import SUPPORTED_DTYPE_NAMES, dtype_from_name

__all__ = ["arrays", "assert_bit_exact", "shapes", "strided_views"]

shapes = st.lists(st.integers(0, 7), min_size=0, max_size=3).map(tuple)

# Values that break float round-trips through anything but raw bytes.
_SPECIAL_F32 = [
    0x00000000,  # +0.0
    0x80000000,  # -0.0
    0x7FC00000,  # quiet NaN
    0x7FC00001,  # NaN with payload
    0xFFBADBAD,  # negative signalling-style NaN payload
    0x00000001,  # smallest subnormal
    0x807FFFFF,  # largest negative subnormal
    0x7F800000,  # +inf
    0xFF800000,  # -inf
]


@st.composite
def arrays(draw: st.DrawFn, dtype_names: tuple[str, ...] = SUPPORTED_DTYPE_NAMES) -> np.ndarray:
    """An array of any supported dtype whose bytes are arbitrary (so NaN payloads, -0.0 and
    subnormals all occur), sometimes with special float32 patterns spliced in."""
    dtype = dtype_from_name(draw(st.sampled_from(dtype_names)))
    shape = draw(shapes)
    count = int(np.prod(shape, dtype=np.int64))
    raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    if dtype == np.bool_:
        raw = bytes(b & 1 for b in raw)
    arr: np.ndarray = np.frombuffer(raw, dtype=dtype).copy().reshape(shape)
    if dtype == np.float32 and count and draw(st.booleans()):
        flat = arr.reshape(-1).view(np.uint32)
        for i in range(min(count, len(_SPECIAL_F32))):
            flat[i] = _SPECIAL_F32[(i + draw(st.integers(0, 8))) % len(_SPECIAL_F32)]
    return arr


_SWAPPABLE = {"float16", "float32", "float64", "int16", "int32", "int64", "uint16", "uint32"}


@st.composite
def strided_views(draw: st.DrawFn) -> np.ndarray:
    """Non-contiguous, Fortran-order or big-endian views of an array."""
    base = draw(arrays())
    kind = draw(st.sampled_from(["fortran", "reversed", "big-endian", "plain"]))
    if kind == "fortran":
        return np.asarray(base, order="F")
    if kind == "reversed" and base.ndim:
        return base[::-1]
    if kind == "big-endian" and base.dtype.name in _SWAPPABLE:
        return base.astype(base.dtype.newbyteorder(">"))
    return base


def assert_bit_exact(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, same shape, same bytes: the only equality Coral accepts."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == np.ascontiguousarray(expected).tobytes()
