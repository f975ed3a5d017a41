"""Metric points: ``(step, value)`` pairs by metric name, checked and stored as JSON.

A diverged loss is a fact, not an error: NaN and infinities are kept. JSON has no spelling
for them (and the repository's JSON reader refuses Python's ``NaN``), so they are stored as
the strings ``"nan"``, ``"inf"`` and ``"-inf"`` and read back as floats.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from coral.errors import InvalidTypeError, InvalidValueError

Points = dict[str, list[tuple[int, float]]]
"""metric name -> ``[(step, value), ...]`` in the order they were logged."""

RESERVED = frozenset({"step"})
"""Names a point cannot have: ``step`` is the point's position, not a metric."""

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def check_step(step: Any) -> int:
    """A step is an int >= 0 (NumPy ints too)."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidTypeError(f"step must be an int, got {type(step).__name__} {step!r}")
    if step < 0:
        raise InvalidValueError(f"step must be >= 0, got {step}")
    return int(step)


def check_values(metrics: Any) -> dict[str, float]:
    """name -> float for a log call: real numbers (NumPy scalars, 0-d tensors via ``item``),
    non-finite ones included; names non-empty strings other than ``step``."""
    if not isinstance(metrics, Mapping):
        raise InvalidTypeError(
            f"log takes a dict of metric name -> number, got {type(metrics).__name__}"
        )
    clean: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name:
            raise InvalidValueError(f"metric names must be non-empty strings, got {name!r}")
        if name in RESERVED:
            raise InvalidValueError(
                f"{name!r} is the point's position, not a metric: pass step={value!r}"
            )
        clean[name] = _number(name, value)
    return clean


def _number(name: str, value: Any) -> float:
    if hasattr(value, "item") and not isinstance(value, numbers.Real):
        value = value.item()  # a 0-d tensor or array
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidValueError(f"metric {name!r} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        return math.copysign(math.inf, int(str(value)))


def encode_value(value: float) -> float | str:
    """A value as JSON can hold it."""
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def decode_value(raw: Any) -> float:
    """A stored value back as a float (ValueError for anything else)."""
    if isinstance(raw, str):
        if raw not in _NON_FINITE:
            raise ValueError(f"{raw!r} is not a metric value")
        return _NON_FINITE[raw]
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"{raw!r} is not a metric value")
    return float(raw)


def encode_points(points: Points) -> dict[str, list[list[Any]]]:
    """Points as a commit's metadata keeps them: ``{name: [[step, value], ...]}``."""
    return {name: [[s, encode_value(v)] for s, v in pairs] for name, pairs in points.items()}


def decode_points(raw: Any) -> Points:
    """Points from a commit's metadata; malformed entries are skipped (a hand-edited or
    foreign commit must not break a curve)."""
    points: Points = {}
    if not isinstance(raw, Mapping):
        return points
    for name, pairs in raw.items():
        if not isinstance(name, str) or not isinstance(pairs, list):
            continue
        for pair in pairs:
            try:
                step, value = pair
                points.setdefault(name, []).append((check_step(step), decode_value(value)))
            except (TypeError, ValueError):
                continue
    return points


def merge_points(*groups: Points) -> Points:
    """Several groups of points as one, each metric's points in step order (stable: points
    logged at the same step keep their order)."""
    merged: Points = {}
    for group in groups:
        for name, pairs in group.items():
            merged.setdefault(name, []).extend(pairs)
    return {name: sorted(pairs, key=lambda p: p[0]) for name, pairs in merged.items()}


def latest(points: Points) -> dict[str, float]:
    """Each metric's value at its highest step (the last logged there)."""
    out: dict[str, float] = {}
    for name, pairs in points.items():
        if pairs:
            out[name] = max(enumerate(pairs), key=lambda ip: (ip[1][0], ip[0]))[1][1]
    return out
