"""Checking the values users hand to ``stage_weights``: arrays, tensors, ``WeightTensor``."""

from __future__ import annotations

from typing import Any

import numpy as np

from coral.core.arrays import as_numpy, is_torch_tensor, require_values
from coral.core.dtypes import dtype_name
from coral.core.weight_tensor import WeightMetadata, WeightTensor, refuse_masked
from coral.errors import InvalidWeightError


def prepare_weight(name: str, value: Any) -> tuple[WeightTensor | np.ndarray, WeightMetadata]:
    """Validate one staged value without copying it; return it with its metadata."""
    if isinstance(value, WeightTensor):
        tensor = value if value.name == name else value.with_metadata(name=name)
        return tensor, tensor.metadata
    if is_torch_tensor(value):  # torch is imported already: the caller handed us its tensor
        require_values(value, name)
    refuse_masked(value, name)
    try:
        array = as_numpy(value)
        dtype_name(array.dtype)
    except InvalidWeightError as err:  # name the offending entry
        raise type(err)(f"weight {name!r}: {err}") from None
    return array, WeightMetadata(name, array.shape, array.dtype)
