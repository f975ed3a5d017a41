"""What a run commits: a ``torch.nn.Module``, a state dict, or a dict of arrays and
``WeightTensor``s (what ``%coral add`` takes), as the name -> weight mapping
``stage_weights`` takes; with ``copy``, holding private copies, so training can go on."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from coral.core.arrays import is_torch_tensor
from coral.errors import WeightTypeError


def model_weights(model: Any, *, copy: bool = False) -> dict[str, Any]:
    """``model``'s weights by name (see the module docstring)."""
    torch = sys.modules.get("torch")
    if (torch is not None and isinstance(model, torch.nn.Module)) or (
        isinstance(model, Mapping) and any(is_torch_tensor(v) for v in model.values())
    ):
        from coral.integrations.pytorch import pytorch_to_coral

        return dict(pytorch_to_coral(model))  # always private copies
    if not isinstance(model, Mapping):
        raise WeightTypeError(
            f"a run commits a torch module, a state dict or a dict of arrays, got "
            f"{type(model).__name__}"
        )
    if not copy:
        return dict(model)
    return {name: _copied(value) for name, value in model.items()}


def optimizer_state(optimizer: Any, *, copy: bool = False) -> dict[str, Any]:
    """``optimizer``'s state as entries to stage (moments, step counts, param groups); with
    ``copy``, tensors cloned, so the optimizer may step on."""
    from coral.integrations.optimizer import optimizer_entries

    entries = optimizer_entries(optimizer)
    if not copy:
        return entries
    return {n: v.clone() if is_torch_tensor(v) else _copied(v) for n, v in entries.items()}


def _copied(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    return value  # a WeightTensor holds a read-only copy already; others are refused later
