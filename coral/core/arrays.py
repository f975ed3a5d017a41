"""Turning what users hand us (NumPy arrays, PyTorch tensors) into NumPy arrays, without copies.

PyTorch is never imported here: a torch tensor can only reach us if the caller already imported
torch, so it is recognised by its type's module and converted through its own methods.
"""

from __future__ import annotations

import sys
from typing import Any

import ml_dtypes
import numpy as np

from coral.errors import InvalidWeightError, WeightTypeError

# torch dtypes NumPy lacks, viewed through a same-size integer type (bit-exact).
_TORCH_VIA_VIEW = {
    "torch.bfloat16": ("int16", ml_dtypes.bfloat16),
    "torch.float8_e4m3fn": ("uint8", ml_dtypes.float8_e4m3fn),
    "torch.float8_e5m2": ("uint8", ml_dtypes.float8_e5m2),
}


def is_torch_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def require_values(tensor: Any, name: str) -> None:
    """Refuse a tensor on PyTorch's ``meta`` device (a shape and dtype, no values), before
    anything tries to copy it out (which raises ``NotImplementedError``).

    Raises:
        InvalidWeightError: ``tensor`` is on the meta device.
    """
    if tensor.device.type == "meta":
        raise InvalidWeightError(
            f"weight {name!r} is a tensor on the meta device: it has a shape but no values; "
            "materialise the model first (model.to_empty(device='cpu'), then initialise or "
            "load its weights)"
        )


def as_numpy(value: Any) -> np.ndarray:
    """A NumPy view of an array-like weight (may share memory with ``value``)."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    if is_torch_tensor(value):
        return torch_tensor_to_numpy(value)
    raise WeightTypeError(
        f"expected a NumPy array, a torch.Tensor or a WeightTensor, got {type(value).__name__}"
    )


def torch_tensor_to_numpy(tensor: Any) -> np.ndarray:
    """Bit-exact NumPy view of a CPU copy of ``tensor`` (bfloat16 and float8 included)."""
    torch = sys.modules["torch"]  # present: we were handed one of its tensors
    t = tensor.detach()
    if t.layout != torch.strided:
        raise InvalidWeightError(f"cannot store a {t.layout} tensor; convert it with .to_dense()")
    if t.device.type != "cpu":
        t = t.cpu()
    t = t.resolve_conj().resolve_neg()
    via = _TORCH_VIA_VIEW.get(str(t.dtype))
    if via is not None:
        int_name, np_dtype = via
        return np.asarray(t.view(getattr(torch, int_name)).numpy()).view(np_dtype)
    try:
        return np.asarray(t.numpy())
    except (TypeError, RuntimeError) as err:
        raise InvalidWeightError(f"cannot store a tensor of dtype {t.dtype}: {err}") from err
