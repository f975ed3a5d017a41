"""Between the user's namespace and Coral: which objects hold weights, and loading weights
back into them.

Stageable objects: a torch ``nn.Module`` (parameters and buffers), a state dict or any dict of
name -> array/tensor/WeightTensor, a single array, tensor or WeightTensor. One object
contributes its own names (a module's state-dict keys, a dict's keys; a single array is named
after its variable); several objects together are prefixed ``<variable>.`` so they cannot
collide.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from coral.core.arrays import is_torch_tensor
from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError, InvalidWeightError


def lookup(namespace: Mapping[str, Any], name: str) -> Any:
    """``namespace[name]``, following attributes for dotted names (``model.encoder``)."""
    head, *rest = name.split(".")
    if head not in namespace:
        raise InvalidValueError(f"{head!r} is not defined in the notebook")
    obj = namespace[head]
    for attr in rest:
        if not hasattr(obj, attr):
            raise InvalidValueError(f"{name!r}: {type(obj).__name__} has no attribute {attr!r}")
        obj = getattr(obj, attr)
    return obj


def is_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_array(obj: Any) -> bool:
    return isinstance(obj, np.ndarray | WeightTensor) or is_torch_tensor(obj)


def is_stageable(obj: Any) -> bool:
    """Whether ``obj`` holds weights ``%coral add`` can stage."""
    if is_module(obj) or _is_array(obj):
        return True
    return (
        isinstance(obj, Mapping)
        and bool(obj)
        and all(isinstance(k, str) and _is_array(v) for k, v in obj.items())
    )


def weights_of(variable: str, obj: Any) -> dict[str, Any]:
    """The weights ``obj`` holds, by name (values as ``stage_weights`` accepts them)."""
    if is_module(obj) or (
        isinstance(obj, Mapping) and any(is_torch_tensor(v) for v in obj.values())
    ):
        from coral.integrations.pytorch import pytorch_to_coral

        return dict(pytorch_to_coral(obj))
    if _is_array(obj):
        return {variable.split(".")[-1]: obj}
    if is_stageable(obj):
        return dict(obj)
    raise InvalidValueError(
        f"{variable} is a {type(obj).__name__}; %coral add takes a torch module, a state dict, "
        "a dict of arrays, or an array"
    )


def single_model(namespace: Mapping[str, Any]) -> str:
    """The one notebook variable holding a torch module (else a dict of weights), for a
    command given no names; UsageError-style ValueError naming the candidates otherwise."""
    public = {k: v for k, v in namespace.items() if not k.startswith("_")}
    modules = [k for k, v in public.items() if is_module(v)]
    candidates = modules or [
        k for k, v in public.items() if isinstance(v, Mapping) and is_stageable(v)
    ]
    if len(candidates) == 1:
        return candidates[0]
    found = ", ".join(sorted(candidates)) or "none"
    raise InvalidValueError(
        f"name the weights to commit (%coral run commit NAME); candidates: {found}"
    )


def collect(namespace: Mapping[str, Any], variables: Iterable[str]) -> dict[str, Any]:
    """The weights of several variables: one object keeps its own names; with several, each
    name is prefixed by its variable (an array is named by its full dotted path). Names that
    would still collide are refused rather than silently overwritten."""
    names = list(dict.fromkeys(variables))
    objects = [(v, lookup(namespace, v)) for v in names]
    weights: dict[str, Any] = {}
    for variable, obj in objects:
        for key, value in weights_of(variable, obj).items():
            name = _weight_name(variable, obj, key, alone=len(objects) == 1)
            if name in weights:
                raise InvalidValueError(
                    f"two of {', '.join(names)} give a weight named {name!r}; add them one at "
                    "a time or rename one"
                )
            weights[name] = value
    return weights


def _weight_name(variable: str, obj: Any, key: str, *, alone: bool) -> str:
    if alone:
        return key
    return variable if _is_array(obj) else f"{variable}.{key}"


def plan_load(
    namespace: dict[str, Any], variable: str, weights: Mapping[str, WeightTensor]
) -> Callable[[], str]:
    """Check that ``weights`` fit the object named ``variable`` (created as a dict of NumPy
    arrays if it does not exist), strictly: names, shapes and dtypes. Returns the function
    that loads them, which cannot fail, so a caller can check everything else first and
    nothing is ever half-loaded. It returns a one-line description of what it loaded."""
    # Weights committed together with other objects carry a "<variable>." prefix; but a model
    # may have such names of its own (Hugging Face: "model.*" in a variable named model), so
    # the full names are tried first and the stripped subset only if they do not fit.
    prefix = f"{variable}."
    subset = {k[len(prefix) :]: w for k, w in weights.items() if k.startswith(prefix)}
    if "." not in variable and variable not in namespace:
        if subset and len(subset) == len(weights):
            weights = subset

        def create() -> str:
            namespace[variable] = {k: np.array(w.data) for k, w in weights.items()}
            return f"created {variable}: a dict of {len(weights)} NumPy arrays"

        return create
    target = lookup(namespace, variable)
    if is_module(target):
        from coral.integrations.pytorch import check_model_compatibility, load_into_model

        report = check_model_compatibility(target, weights)
        if not report.ok and subset and check_model_compatibility(target, subset).ok:
            weights, report = subset, check_model_compatibility(target, subset)
        if not report.ok:
            raise InvalidWeightError(f"cannot load into {variable}: {report}")

        def into_module() -> str:
            load_into_model(target, weights)
            return f"loaded {len(weights)} weights into {variable} ({type(target).__name__})"

        return into_module
    if isinstance(target, dict):
        try:
            _check_dict(target, variable, weights)
        except InvalidWeightError:
            if not subset:
                raise
            _check_dict(target, variable, subset)
            weights = subset

        def into_dict() -> str:
            _replace_dict(target, weights)
            return f"loaded {len(weights)} weights into {variable} (dict)"

        return into_dict
    raise InvalidValueError(
        f"cannot load weights into {variable}, a {type(target).__name__}; use a torch module, "
        "a dict, or a new name"
    )


def _check_dict(target: dict[str, Any], variable: str, weights: Mapping[str, WeightTensor]) -> None:
    if not target:
        return
    missing = sorted(target.keys() - weights.keys())
    unexpected = sorted(weights.keys() - target.keys())
    mismatched = [
        f"{k}: {why}"
        for k, w in weights.items()
        if k in target and (why := _misfit(target[k], w, variable))
    ]
    problems = (
        ([f"missing from the commit: {', '.join(missing)}"] if missing else [])
        + ([f"not in {variable}: {', '.join(unexpected)}"] if unexpected else [])
        + mismatched
    )
    if problems:
        raise InvalidWeightError(f"cannot load into {variable}: {'; '.join(problems)}")


def _misfit(have: Any, want: WeightTensor, variable: str) -> str | None:
    """Why the commit's ``want`` cannot replace ``have`` (strict: shape, then dtype), or None."""
    shape = tuple(np.shape(have))
    if shape != want.shape:
        return f"shape {shape} in {variable}, {want.shape} in the commit"
    dtype = _dtype_name(have)
    if dtype != want.dtype_name:
        return f"dtype {dtype} in {variable}, {want.dtype_name} in the commit"
    return None


def _dtype_name(value: Any) -> str:
    if isinstance(value, WeightTensor):
        return value.dtype_name
    if is_torch_tensor(value):
        from coral.integrations.pytorch import torch_dtype_name

        return torch_dtype_name(value)
    return str(np.asarray(value).dtype.name)


def _replace_dict(target: dict[str, Any], weights: Mapping[str, WeightTensor]) -> None:
    values: dict[str, Any]
    if any(is_torch_tensor(v) for v in target.values()):
        from coral.integrations.pytorch import coral_to_pytorch

        values = coral_to_pytorch(weights)
    else:
        values = {k: np.array(w.data) for k, w in weights.items()}
    target.clear()
    target.update(values)
