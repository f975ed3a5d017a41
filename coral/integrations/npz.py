"""NumPy ``.npz`` archives in and out, never unpickling (``allow_pickle=False``).

NumPy has no bfloat16 or float8 of its own: such arrays are written as their unsigned-integer
bit patterns, with their dtype names in a ``__coral_dtypes__`` entry (a JSON string), and read
back as the real dtype. A foreign archive holding raw-void arrays (what saving an ml_dtypes
array with plain NumPy produces) is refused: its dtype cannot be known.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from coral.core.dtypes import UINT_OF_SIZE, canonical_array, dtype_from_name, dtype_name
from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError
from coral.storage.fsutil import atomic_file, loads_json

_DTYPES_KEY = "__coral_dtypes__"
_NOT_NUMPY = {"bfloat16", "float8_e4m3fn", "float8_e5m2"}


def save_npz(weights: Mapping[str, WeightTensor | np.ndarray], path: str | Path) -> Path:
    """Write ``weights`` to an uncompressed ``.npz`` (atomically)."""
    target = Path(path)
    arrays: dict[str, np.ndarray] = {}
    special: dict[str, str] = {}
    for name, value in weights.items():
        if name == _DTYPES_KEY:
            raise InvalidValueError(f"{_DTYPES_KEY!r} is reserved in Coral's .npz files")
        arr = value.data if isinstance(value, WeightTensor) else canonical_array(value, copy=False)
        kind = dtype_name(arr.dtype)
        if kind in _NOT_NUMPY:
            special[name] = kind
            arr = arr.view(UINT_OF_SIZE[arr.dtype.itemsize])
        arrays[name] = arr
    if special:
        arrays[_DTYPES_KEY] = np.array(json.dumps(special))
    with atomic_file(target) as fh:
        np.savez(fh, **arrays)  # type: ignore[arg-type]
    return target


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, bit-exact, with Coral's dtype names applied."""
    source = Path(path)
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except ValueError as err:  # object arrays need pickle: refused, never loaded
        raise InvalidValueError(
            f"{source} holds pickled objects, which Coral never loads: {err}"
        ) from None
    special = loads_json(str(arrays.pop(_DTYPES_KEY))) if _DTYPES_KEY in arrays else {}
    out: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        if name in special:
            arr = arr.view(dtype_from_name(special[name]))
        elif arr.dtype.kind == "V":
            raise InvalidValueError(
                f"{source}: {name!r} is raw bytes of an unknown dtype (bfloat16 saved with plain "
                "NumPy?); save it with coral.integrations.npz.save_npz or as safetensors"
            )
        out[name] = canonical_array(arr, copy=False)
    return out
