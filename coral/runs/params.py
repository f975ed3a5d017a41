"""A run's parameters: a JSON object of hyperparameters (``{"lr": 3e-4, "batch": 32}``)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from coral.errors import InvalidTypeError, InvalidValueError


def check_params(params: Any) -> dict[str, Any]:
    """``params`` as plain JSON values: str keys; str, bool, None, finite numbers (NumPy
    scalars become Python ones), and lists and dicts of those."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise InvalidTypeError(f"params must be a dict, got {type(params).__name__}")
    return {_key(k): _value(k, v) for k, v in params.items()}


def _key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidValueError(f"param names must be non-empty strings, got {key!r}")
    return key


def _value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidValueError(f"param {name!r} must be finite, got {number}")
        return number
    if isinstance(value, list | tuple):
        return [_value(name, v) for v in value]
    if isinstance(value, Mapping):
        return {_key(k): _value(f"{name}.{k}", v) for k, v in value.items()}
    raise InvalidValueError(
        f"param {name!r} must be a string, number, bool, None, list or dict, got "
        f"{type(value).__name__}; pass str(value) to record it as text"
    )
