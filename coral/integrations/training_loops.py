"""What the training-framework callbacks (Hugging Face, Lightning) share: the little they need
of a repository and a run (protocols, so this layer never imports the run layer above it),
opening or resuming a run by name, and turning a framework's values into params and metrics.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any, Protocol

from coral.errors import InvalidValueError, RefExistsError


class RunLike(Protocol):
    """What a callback calls on a :class:`coral.runs.Run`."""

    name: str

    @property
    def last_step(self) -> int | None: ...

    def log(self, metrics: dict[str, Any], step: int | None = None) -> int: ...

    def commit(
        self,
        model: Any,
        message: str | None = None,
        *,
        step: int | None = None,
        metrics: dict[str, Any] | None = None,
        optimizer: Any = None,
        background: bool = False,
    ) -> Any: ...

    def close(self) -> None: ...


class RunStarter(Protocol):
    """What a callback needs of a repository: ``start_run``."""

    def start_run(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        from_ref: str | None = None,
        resume: bool = False,
    ) -> Any: ...


def open_run(repo: RunStarter, name: str, params: Mapping[str, Any]) -> RunLike:
    """Start run ``name`` with ``params``, or resume it when it exists (a restarted
    training job), keeping the params it was started with."""
    try:
        run: RunLike = repo.start_run(name, dict(params))
    except RefExistsError:
        run = repo.start_run(name, resume=True)
    return run


def plain_params(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` as JSON a run's params can hold: what is not a string, bool, None,
    finite number, list or dict (a dtype, an enum, a path) is recorded as its text."""
    return {str(k): _plain(v) for k, v in values.items()}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(float(value)) else str(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return plain_params(value)
    return str(value)


def scalar_metrics(values: Mapping[str, Any]) -> dict[str, float]:
    """The numbers among a framework's logged values (0-d tensors included; strings and
    the like, such as HF's ``total_flos`` text, are skipped), as floats."""
    out: dict[str, float] = {}
    for name, value in values.items():
        if name == "step" or not isinstance(name, str):
            continue
        if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
            value = value.item()
        if isinstance(value, bool):
            continue
        if isinstance(value, numbers.Real):
            out[name] = float(value)
    return out


def check_every(name: str, value: int | None) -> int | None:
    """A schedule argument: None or a positive int."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
    return value
