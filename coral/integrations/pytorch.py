"""PyTorch <-> Coral, bit-exact for every dtype (bfloat16 and float8 included).

PyTorch is imported only when a function here needs it; without it you get a
:class:`~coral.errors.MissingExtraError` naming the ``torch`` extra.

Example:
    >>> weights = pytorch_to_coral(model)                     # doctest: +SKIP
    >>> repo.stage_weights(weights); repo.commit("epoch 3")   # doctest: +SKIP
    >>> load_into_model(model, repo.get_all_weights("main~1"))  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from coral.core.arrays import as_numpy, is_torch_tensor, require_values
from coral.core.dtypes import dtype_name
from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.errors import InvalidWeightError, MissingExtraError, WeightTypeError

# NumPy dtypes torch has no direct from_numpy for: go through a same-size integer view.
_NUMPY_VIA_VIEW = {
    "bfloat16": (np.int16, "bfloat16"),
    "float8_e4m3fn": (np.uint8, "float8_e4m3fn"),
    "float8_e5m2": (np.uint8, "float8_e5m2"),
}


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise MissingExtraError.for_extra(
            "PyTorch", "torch", "coral.integrations.pytorch"
        ) from None
    return torch


def pytorch_to_coral(source: Any, *, model_name: str | None = None) -> dict[str, WeightTensor]:
    """Convert a ``state_dict()`` or an ``nn.Module`` (parameters *and* buffers) to Coral.

    Args:
        source: a module, or a mapping of name -> tensor such as ``model.state_dict()``.
        model_name: recorded in each weight's metadata.

    Returns:
        ``{name: WeightTensor}``; each holds a private copy, so training can continue.
        With a module, ``metadata.layer_type`` is the owning module's class (``"Linear"``).
    """
    torch = _torch()
    layer_types: dict[str, str] = {}
    if isinstance(source, torch.nn.Module):
        for prefix, module in source.named_modules():
            for local in list(module._parameters) + list(module._buffers):
                layer_types[f"{prefix}.{local}" if prefix else local] = type(module).__name__
        state = source.state_dict()
    elif isinstance(source, Mapping):
        state = source
    else:
        raise WeightTypeError(
            f"pytorch_to_coral takes an nn.Module or a state dict, got {type(source).__name__}"
        )
    weights: dict[str, WeightTensor] = {}
    for name, tensor in state.items():
        if not is_torch_tensor(tensor):
            raise WeightTypeError(
                f"state dict entry {name!r} is a {type(tensor).__name__}, not a tensor"
            )
        require_values(tensor, name)
        array = as_numpy(tensor)
        metadata = WeightMetadata(
            name=name,
            shape=array.shape,
            dtype=array.dtype,
            layer_type=layer_types.get(name),
            model_name=model_name,
        )
        weights[name] = WeightTensor(array, metadata)
    return weights


def to_torch_tensor(weight: WeightTensor | np.ndarray, *, copy: bool = True) -> Any:
    """A torch tensor with exactly the weight's bits.

    Args:
        copy: return a writable tensor that owns its memory. ``False`` shares the (read-only)
            buffer; only for tensors that will not be written to.
    """
    torch = _torch()
    array = weight.data if isinstance(weight, WeightTensor) else weight
    via = _NUMPY_VIA_VIEW.get(dtype_name(array.dtype))
    source = array.view(via[0]) if via else array
    if copy:
        source = source.copy()
    with warnings.catch_warnings():
        # Read-only source: safe, the tensor is only read (copy=False) or is a fresh copy.
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
        tensor = torch.from_numpy(source)
    return tensor.view(getattr(torch, via[1])) if via else tensor


def coral_to_pytorch(weights: Mapping[str, WeightTensor]) -> dict[str, Any]:
    """``{name: torch.Tensor}`` (writable copies), ready for ``model.load_state_dict``."""
    return {name: to_torch_tensor(w) for name, w in weights.items()}


@dataclass
class LoadReport:
    """What :func:`load_into_model` found; it loads nothing unless ``ok``."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def __str__(self) -> str:
        parts = []
        if self.missing:
            parts.append(f"missing from the weights: {', '.join(self.missing)}")
        if self.unexpected:
            parts.append(f"not in the model: {', '.join(self.unexpected)}")
        parts += [f"{name}: {why}" for name, why in self.mismatched.items()]
        return "; ".join(parts) or "all weights match the model"


def torch_dtype_name(tensor: Any) -> str:
    """Coral's name for ``tensor``'s dtype (``"bfloat16"``), whatever its device (meta too)."""
    return dtype_name(as_numpy(_torch().empty(0, dtype=tensor.dtype)).dtype)


def check_model_compatibility(model: Any, weights: Mapping[str, WeightTensor]) -> LoadReport:
    """Compare a module's state dict with ``weights``: names, shapes and dtypes."""
    target = model.state_dict()
    report = LoadReport(
        missing=sorted(target.keys() - weights.keys()),
        unexpected=sorted(weights.keys() - target.keys()),
    )
    for name in sorted(target.keys() & weights.keys()):
        have, want = weights[name], target[name]
        have_dtype = have.dtype_name
        want_dtype = torch_dtype_name(want)
        if tuple(want.shape) != have.shape:
            report.mismatched[name] = (
                f"shape {have.shape} in the weights, {tuple(want.shape)} in the model"
            )
        elif want_dtype != have_dtype:
            report.mismatched[name] = (
                f"dtype {have_dtype} in the weights, {want_dtype} in the model"
            )
    return report


def load_into_model(
    model: Any, weights: Mapping[str, WeightTensor], *, strict: bool = True
) -> LoadReport:
    """Copy ``weights`` into ``model``'s parameters and buffers, in place, bit-exact.

    Nothing is half-loaded: every name, shape and dtype is checked first.

    Args:
        strict: raise :class:`InvalidWeightError` on any missing/unexpected name or mismatch.
            With ``strict=False`` missing and unexpected names are allowed (and reported), but
            shape/dtype mismatches still refuse the load.
    """
    torch = _torch()
    report = check_model_compatibility(model, weights)
    if report.mismatched or (strict and not report.ok):
        raise InvalidWeightError(f"cannot load weights into {type(model).__name__}: {report}")
    targets = model.state_dict(keep_vars=True)
    with torch.no_grad():
        for name in targets.keys() & weights.keys():
            targets[name].copy_(to_torch_tensor(weights[name], copy=False))
    return report


def load_into(
    model: Any, weights: Mapping[str, WeightTensor], *, strict: bool = True
) -> LoadReport:
    """The short name of :func:`load_into_model` (``load_into(model, repo.get_all_weights())``)."""
    return load_into_model(model, weights, strict=strict)
