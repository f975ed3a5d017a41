"""The dtypes Coral stores, their canonical names, and the canonical in-memory layout.

A stored tensor is identified by its dtype *name* (``"bfloat16"``, never an HDF5 or NumPy type
code), its shape, and its bytes in C order, little-endian. :func:`canonical_array` turns any
accepted input into that layout, copying only when the input is not already canonical.
"""

from __future__ import annotations

from typing import Any, cast

import ml_dtypes
import numpy as np
import numpy.typing as npt

from coral.errors import InvalidWeightError, WeightTypeError

if not np.little_endian:  # canonical bytes are little-endian and read back as native arrays
    raise ImportError("Coral runs on little-endian machines only")

_SUPPORTED: dict[str, np.dtype[Any]] = {
    name: np.dtype(t)
    for name, t in {
        "bool": np.bool_,
        "int8": np.int8,
        "int16": np.int16,
        "int32": np.int32,
        "int64": np.int64,
        "uint8": np.uint8,
        "uint16": np.uint16,
        "uint32": np.uint32,
        "uint64": np.uint64,
        "float16": np.float16,
        "bfloat16": ml_dtypes.bfloat16,
        "float32": np.float32,
        "float64": np.float64,
        "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
        "float8_e5m2": ml_dtypes.float8_e5m2,
        "complex64": np.complex64,
        "complex128": np.complex128,
    }.items()
}

SUPPORTED_DTYPE_NAMES: tuple[str, ...] = tuple(_SUPPORTED)
_NAME_OF: dict[np.dtype[Any], str] = {dt: name for name, dt in _SUPPORTED.items()}

UINT_OF_SIZE: dict[int, type[np.unsignedinteger[Any]]] = {
    1: np.uint8,
    2: np.uint16,
    4: np.uint32,
    8: np.uint64,
}
"""The unsigned integer type of each element width in bytes: codecs and deltas work on these
views of a tensor's bit patterns."""

#: Dtypes whose values are floating point (ml_dtypes types report kind "V", so test by name).
FLOAT_DTYPE_NAMES = frozenset(
    {"float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"}
)


def dtype_name(dtype: npt.DTypeLike) -> str:
    """Return Coral's canonical name for ``dtype`` or raise :class:`InvalidWeightError`.

    Byte order does not matter: ``">f4"`` and ``"<f4"`` are both ``"float32"``.
    """
    if isinstance(dtype, np.dtype):  # fast path: called for every weight of every commit read
        known = _NAME_OF.get(dtype)
        if known is not None:
            return known
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise WeightTypeError(f"{dtype!r} is not a NumPy dtype") from err
    native = dt.newbyteorder("=") if dt.byteorder in "<>" else dt
    name = str(native.name)
    if _SUPPORTED.get(name) != native:
        supported = ", ".join(SUPPORTED_DTYPE_NAMES)
        raise InvalidWeightError(f"dtype {dt} cannot be stored; supported dtypes are: {supported}")
    return name


def dtype_from_name(name: str) -> np.dtype[Any]:
    """Return the NumPy dtype for a canonical dtype name (as recorded in commits and packs)."""
    try:
        return _SUPPORTED[name]
    except KeyError:
        raise InvalidWeightError(
            f"unknown stored dtype {name!r}; this repository may come from a newer Coral"
        ) from None


def is_float_dtype(name: str) -> bool:
    return name in FLOAT_DTYPE_NAMES


def canonical_array(data: Any, *, copy: bool) -> np.ndarray:
    """Return ``data`` as a C-contiguous, little-endian array of a supported dtype.

    Args:
        data: a NumPy array (any order, strides or byte order) or a NumPy scalar.
        copy: always return a private copy (the caller may mutate ``data`` later).

    Values are preserved bit for bit: byte swapping and reordering never touch NaN payloads
    or the sign of zero. Boolean arrays are normalised to bytes 0/1 so that two arrays that
    compare equal also hash equal.
    """
    if isinstance(data, np.generic):
        data = np.asarray(data)
    if not isinstance(data, np.ndarray):
        raise WeightTypeError(
            f"expected a NumPy array, got {type(data).__name__}; "
            "convert it with np.asarray(...) or coral.integrations.pytorch.pytorch_to_coral"
        )
    native = dtype_from_name(dtype_name(data.dtype))  # raises for unsupported dtypes
    if data.dtype.byteorder == ">":
        data = data.astype(native, order="C")  # a byte swap: bit-exact for every value
        copy = False  # astype already made a private copy
    arr = np.array(data, order="C", copy=True) if copy else np.asarray(data, order="C")
    if arr.dtype == np.bool_:
        raw = arr.reshape(-1).view(np.uint8)
        if raw.size and int(raw.max()) > 1:
            arr = (raw != 0).reshape(arr.shape)
    return arr


def byte_view(arr: np.ndarray) -> np.ndarray:
    """A flat ``uint8`` view of a C-contiguous array (works for 0-d arrays and ml_dtypes)."""
    return arr.reshape(-1).view(np.uint8)


def as_buffer(arr: np.ndarray) -> memoryview:
    """A zero-copy memoryview of a C-contiguous array's bytes (ml_dtypes refuse ``memoryview``
    on themselves, so this goes through the uint8 view)."""
    return memoryview(cast(Any, byte_view(arr)))
