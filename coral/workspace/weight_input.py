"""Checking what users hand to ``stage_weights``, ``get_weight`` and friends."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

import numpy as np

from coral.core.arrays import as_numpy, is_torch_tensor
from coral.core.dtypes import dtype_name
from coral.core.weight_tensor import WeightMetadata, WeightTensor, refuse_masked
from coral.errors import InvalidWeightError, WeightTypeError


def check_weight_name(name: object) -> str:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise WeightTypeError(f"weight names must be non-empty strings, got {name!r}")
    try:
        name.encode()
    except UnicodeEncodeError:  # a lone surrogate: no file or JSON can hold it
        raise WeightTypeError(
            f"weight name {name!r} is not valid Unicode (a lone surrogate); decode it properly"
        ) from None
    return name


def prepare_weight(name: str, value: Any) -> tuple[WeightTensor | np.ndarray, WeightMetadata]:
    """Validate one staged value without copying it; return it with its metadata."""
    if isinstance(value, WeightTensor):
        tensor = value if value.name == name else value.with_metadata(name=name)
        return tensor, tensor.metadata
    if is_torch_tensor(value):  # torch is imported already: the caller handed us its tensor
        from coral.integrations.pytorch import require_values

        require_values(value, name)
    refuse_masked(value, name)
    try:
        array = as_numpy(value)
        dtype_name(array.dtype)
    except InvalidWeightError as err:  # name the offending entry
        raise type(err)(f"weight {name!r}: {err}") from None
    return array, WeightMetadata(name, array.shape, array.dtype)


def name_set(names: str | Iterable[str]) -> set[str]:
    if isinstance(names, str):
        return {names}
    if not isinstance(names, Iterable):
        raise WeightTypeError(f"expected a weight name or a list of names, got {names!r}")
    result = set(names)
    if not all(isinstance(n, str) for n in result):
        raise WeightTypeError(f"weight names must be strings, got {sorted(map(repr, result))}")
    return result


def missing_weight_message(name: str, known: Iterable[str], where: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"no weight named {name!r} in {where}{hint}"
