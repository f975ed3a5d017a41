"""Reading and writing ``.safetensors`` files (Hugging Face's format), without the
``safetensors`` package and without torch: a little-endian u64 header length, a JSON header
of ``{name: {"dtype", "shape", "data_offsets"}}`` (plus ``__metadata__``: str -> str), then the
tensors' bytes back to back.

Written here rather than through ``safetensors.numpy`` because that cannot carry bfloat16 or
float8 (NumPy has no such types; Coral has them through ml_dtypes), and so that exports stream
one tensor at a time. Files written here load with ``safetensors.numpy``/``safetensors.torch``
and ``transformers``; files from them load here, bit-exact (tests read both ways).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from coral.core.dtypes import as_buffer, canonical_array, dtype_from_name, dtype_name
from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError, InvalidWeightError
from coral.storage.fsutil import atomic_file, loads_json

# Coral dtype name <-> safetensors dtype code.
_CODES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "uint16": "U16",
    "int16": "I16",
    "uint32": "U32",
    "int32": "I32",
    "uint64": "U64",
    "int64": "I64",
    "float16": "F16",
    "bfloat16": "BF16",
    "float32": "F32",
    "float64": "F64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
    "complex64": "C64",
}
_NAMES = {code: name for name, code in _CODES.items()}
_MAX_HEADER = 100 << 20  # the safetensors library's own limit
_ALIGN = 8


def _array(value: WeightTensor | np.ndarray | Any) -> np.ndarray:
    if isinstance(value, WeightTensor):
        return value.data
    return canonical_array(value, copy=False)


def save_safetensors(
    weights: Mapping[str, WeightTensor | np.ndarray],
    path: str | Path,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``weights`` to ``path`` (atomically: a temp file renamed into place).

    Args:
        weights: name -> WeightTensor or array (any dtype Coral stores except complex128,
            which the format lacks).
        metadata: string key/values for the header's ``__metadata__`` (``transformers``
            reads ``{"format": "pt"}``, which is the default).
    """
    target = Path(path)
    meta = {"format": "pt", **dict(metadata or {})}
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise InvalidValueError("safetensors metadata must map strings to strings")
    arrays = {name: _array(value) for name, value in weights.items()}
    header: dict[str, Any] = {"__metadata__": meta}
    offset = 0
    for name in sorted(arrays):
        arr = arrays[name]
        code = _CODES.get(dtype_name(arr.dtype))
        if code is None:
            raise InvalidWeightError(
                f"{name!r} is {dtype_name(arr.dtype)}, which safetensors cannot store"
            )
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % _ALIGN)  # the data starts 8-byte aligned, as the library does
    with atomic_file(target) as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for name in sorted(arrays):
            fh.write(as_buffer(arrays[name]))
    return target


def read_safetensors_header(path: str | Path) -> tuple[dict[str, Any], dict[str, str], int]:
    """The tensor entries, the ``__metadata__`` and where the data starts; every entry checked
    against the file (dtype known, offsets within the file, sizes matching shapes, no
    overlaps or holes)."""
    source = Path(path)
    size = source.stat().st_size
    with open(source, "rb") as fh:
        start = fh.read(8)
        if len(start) < 8:
            raise InvalidValueError(f"{source} is not a safetensors file (too short)")
        (length,) = struct.unpack("<Q", start)
        if length > min(_MAX_HEADER, size - 8):
            raise InvalidValueError(f"{source} is not a safetensors file (header length {length})")
        try:
            header = loads_json(fh.read(length))
        except ValueError:
            raise InvalidValueError(f"{source} is not a safetensors file (bad header)") from None
    if not isinstance(header, dict):
        raise InvalidValueError(f"{source}: the safetensors header is not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise InvalidValueError(f"{source}: __metadata__ is not an object")
    data_start = 8 + length
    spans: list[tuple[int, int]] = []
    for name, entry in header.items():
        try:
            dtype = dtype_from_name(_NAMES[entry["dtype"]])
            shape = [int(d) for d in entry["shape"]]
            begin, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError, InvalidWeightError):
            raise InvalidValueError(
                f"{source}: tensor {name!r} has an unsupported dtype or a malformed entry"
            ) from None
        if any(d < 0 for d in shape) or end - begin != math.prod(shape) * dtype.itemsize:
            raise InvalidValueError(f"{source}: tensor {name!r} does not match its shape")
        if not 0 <= begin <= end <= size - data_start:
            raise InvalidValueError(f"{source}: tensor {name!r} lies outside the file")
        spans.append((begin, end))
    covered = 0
    for begin, end in sorted(spans):
        if begin != covered:
            raise InvalidValueError(f"{source}: the tensors overlap or leave holes in the file")
        covered = end
    return header, {str(k): str(v) for k, v in metadata.items()}, data_start


def load_safetensors(path: str | Path, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file as NumPy arrays (bfloat16 and float8 via ml_dtypes),
    bit-exact; only ``names`` when given. Reads through a memory map: each array is one copy."""
    source = Path(path)
    header, _, data_start = read_safetensors_header(source)
    wanted = list(header) if names is None else list(names)
    missing = [n for n in wanted if n not in header]
    if missing:
        raise InvalidValueError(f"{source} has no tensor(s) {missing[:5]}")
    if source.stat().st_size == data_start:
        mapped = np.empty(0, np.uint8)
    else:
        mapped = np.memmap(source, dtype=np.uint8, mode="r", offset=data_start)
    out: dict[str, np.ndarray] = {}
    for name in wanted:
        entry = header[name]
        begin, end = entry["data_offsets"]
        dtype = dtype_from_name(_NAMES[entry["dtype"]])
        out[name] = np.array(mapped[begin:end]).view(dtype).reshape(entry["shape"])
    del mapped
    return out
