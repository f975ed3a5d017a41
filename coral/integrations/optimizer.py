"""A PyTorch optimizer's state as Coral entries, and back, bit-exact.

``optimizer.state_dict()`` is split in two: every tensor (Adam's ``exp_avg``, ``exp_avg_sq``,
``step``...) becomes an entry ``__optimizer__/state/<param index>/<key>``, so it is
delta-encoded against the previous checkpoint's like any weight; everything else (the param
groups with their learning rates and betas, non-tensor state values) goes, as JSON, into
``__optimizer__/structure.json``. Loading rebuilds the state dict and hands it to
``optimizer.load_state_dict``, which checks it against the optimizer's parameters.

Example:
    >>> repo.stage_optimizer_state(optimizer); repo.commit("step 500")   # doctest: +SKIP
    >>> repo.load_optimizer_state(optimizer, "main~1")                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from coral.errors import InvalidValueError, RepositoryFormatError
from coral.integrations.pytorch import _torch, to_torch_tensor
from coral.records.assets import OPTIMIZER_PREFIX, as_file_array
from coral.storage.fsutil import loads_json

STRUCTURE = OPTIMIZER_PREFIX + "structure.json"
_STATE = OPTIMIZER_PREFIX + "state/"
_FORMAT = 1


def optimizer_entries(optimizer: Any) -> dict[str, Any]:
    """``{entry name: tensor or uint8 array}`` for ``repo.stage_weights``-style staging."""
    torch = _torch()
    state_dict = optimizer.state_dict()
    entries: dict[str, Any] = {}
    state: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        described: dict[str, Any] = {}
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                entries[f"{_STATE}{index}/{key}"] = value.detach()
                described[key] = {"tensor": True}
            else:
                described[key] = {"value": _plain(value, f"state[{index}][{key!r}]")}
        state[str(index)] = described
    structure = {
        "format": _FORMAT,
        "optimizer": type(optimizer).__name__,
        "param_groups": _plain(state_dict["param_groups"], "param_groups"),
        "state": state,
    }
    entries[STRUCTURE] = as_file_array(json.dumps(structure).encode())
    return entries


def load_optimizer_entries(optimizer: Any, entries: Mapping[str, np.ndarray]) -> None:
    """Restore ``optimizer`` from the entries :func:`optimizer_entries` made."""
    if STRUCTURE not in entries:
        raise InvalidValueError("this commit holds no optimizer state (stage_optimizer_state)")
    try:
        structure = loads_json(entries[STRUCTURE].tobytes())
        if structure.get("format") != _FORMAT:
            raise ValueError(f"unknown format {structure.get('format')!r}")
        state: dict[int, dict[str, Any]] = {}
        for index, described in structure["state"].items():
            values: dict[str, Any] = {}
            for key, how in described.items():
                if how.get("tensor"):
                    values[key] = to_torch_tensor(entries[f"{_STATE}{index}/{key}"])
                else:
                    values[key] = _restored(how["value"])
            state[int(index)] = values
        param_groups = _restored(structure["param_groups"])
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise RepositoryFormatError(f"the stored optimizer state is unreadable: {err}") from None
    if structure.get("optimizer") != type(optimizer).__name__:
        raise InvalidValueError(
            f"the stored state is a {structure.get('optimizer')}'s; this optimizer is a "
            f"{type(optimizer).__name__}"
        )
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


_TUPLE = "__tuple__"


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON can hold it exactly (a tuple is marked, to come back a tuple)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"optimizer {where} is {value}; only finite numbers are kept")
        return value
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    if isinstance(value, tuple):
        return {_TUPLE: [_plain(v, where) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) and k != _TUPLE for k in value):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise InvalidValueError(
        f"optimizer {where} holds a {type(value).__name__}, which Coral cannot store exactly; "
        "tensors and JSON values (numbers, strings, lists) are supported"
    )


def _restored(value: Any) -> Any:
    if isinstance(value, list):
        return [_restored(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {_TUPLE}:
            return tuple(_restored(v) for v in value[_TUPLE])
        return {k: _restored(v) for k, v in value.items()}
    return value
