"""How two versions of one float tensor are combined when both branches changed it.

Each method is a pure function of the two sides (``ours``, ``theirs``) and, for the task-vector
methods, their merge base: the version both branches started from, which model-merging papers
call the *base model*. Coral knows it exactly from the commit graph, where merging tools have to
be told.

======================  ==================================================================
``average``             ``(ours + theirs) / 2``
``weighted``            ``merge_alpha * ours + (1 - merge_alpha) * theirs``
``task_arithmetic``     ``base + lambda * (w_o * tau_o + w_t * tau_t)``, ``tau = side - base``
                        (Ilharco et al., 2023)
``ties``                trim each ``tau`` to its ``density`` largest magnitudes, elect a sign
                        per element, average the values that agree (Yadav et al., 2023)
``dare``                drop each element of each ``tau`` with probability ``1 - density``,
                        rescale by ``1 / density``, then add (or TIES-combine with
                        ``sign_election``) (Yu et al., 2024); seeded, so re-runs give the
                        same bytes
``slerp``               spherical interpolation from ``ours`` (``t = 0``) to ``theirs``
                        (``t = 1``), linear when the two are nearly parallel
======================  ==================================================================

Arithmetic runs in float32 (float64 for float64 tensors) and the result is rounded once to the
tensor's dtype. Where ``average``/``weighted`` see bit-identical elements on both sides, the
element is kept as it is, so equal inputs give equal outputs exactly. Parameters whose result is
exactly one side (``merge_alpha`` 1 or 0, ``t`` 0 or 1, a task vector of one side only, untrimmed
and unscaled) give that side as stored, with no arithmetic: a round trip through float32 would
quiet NaN payloads, and ``base + (ours - base)`` is not ``ours`` in floating point.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from coral.core.dtypes import dtype_name, is_float_dtype
from coral.delta.residual import as_words
from coral.errors import InvalidValueError

_DOT_BLOCK = 1 << 20
_PARALLEL_DOT = 0.9995
"""Above this cosine, SLERP falls back to linear interpolation (the angle is too small to
divide by)."""


Side = Literal["ours", "theirs"]


def _never_one_side(params: Mapping[str, Any]) -> Side | None:
    return None


@dataclass(frozen=True)
class Method:
    """A combining method: its name, whether it needs the merge base, and its parameters
    with their defaults."""

    name: str
    needs_base: bool
    defaults: Mapping[str, Any]
    combine: Callable[..., np.ndarray]
    """``combine(ours, theirs, base, params, name)`` -> the merged array (compute dtype)."""
    keeps_equal_elements: bool = False
    """Elements bit-identical on both sides are kept as they are (averages)."""
    exact_side: Callable[[Mapping[str, Any]], Side | None] = _never_one_side
    """``exact_side(params)``: the side the result is, exactly, with these parameters, or None."""


def can_combine(dtype: np.dtype[Any]) -> bool:
    """Only real floating-point tensors are combined; integers, bools (step counters, masks)
    and complex values are taken from one side."""
    return is_float_dtype(dtype_name(dtype))


def validate_params(method: Method, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` checked against ``method``, with defaults filled in.

    Raises:
        InvalidValueError: an unknown parameter, or a value out of range, named.
    """
    given = dict(params)
    if "lambda_" in given:  # ``lambda`` is a Python keyword: merge(..., lambda_=0.5)
        given["lambda"] = given.pop("lambda_")
    unknown = sorted(set(given) - set(method.defaults))
    if unknown:
        accepted = ", ".join(sorted(method.defaults)) or "none"
        raise InvalidValueError(
            f"{method.name} takes no parameter {unknown[0]!r}; its parameters are: {accepted}"
        )
    out = {**method.defaults, **given}
    for key, value in out.items():
        out[key] = _CHECKS[key](method.name, value)
    return out


def combine(
    method: Method,
    ours: np.ndarray,
    theirs: np.ndarray,
    base: np.ndarray | None,
    params: Mapping[str, Any],
    name: str,
) -> np.ndarray:
    """Merge one tensor; ``params`` must come from :func:`validate_params`."""
    side = method.exact_side(params)
    if side is not None:  # no arithmetic, so NaN payloads, -0.0 and inf stay as stored
        taken: np.ndarray = np.array(ours if side == "ours" else theirs, copy=True)
        return taken
    dtype = ours.dtype
    compute = np.float64 if dtype.itemsize == 8 else np.float32
    with np.errstate(all="ignore"):  # inf and NaN weights combine to inf and NaN, silently
        computed = method.combine(
            ours.astype(compute),
            theirs.astype(compute),
            None if base is None else base.astype(compute),
            params,
            name,
        )
        # 0-d arithmetic gives NumPy scalars; values past the dtype's range become inf.
        merged = np.asarray(computed).astype(dtype)
    if method.keeps_equal_elements:
        # Compared and copied in the tensor's own dtype, so NaN payloads survive too.
        np.copyto(
            merged,
            ours,
            where=as_words(ours).reshape(ours.shape) == as_words(theirs).reshape(ours.shape),
        )
    return merged


# --- the methods ---


def _weighted(ours: np.ndarray, theirs: np.ndarray, alpha: float) -> np.ndarray:
    merged: np.ndarray = ours * alpha + theirs * (1.0 - alpha)
    return merged


def _average(ours: np.ndarray, theirs: np.ndarray, base: Any, p: Any, name: str) -> np.ndarray:
    return _weighted(ours, theirs, 0.5)


def _weighted_method(
    ours: np.ndarray, theirs: np.ndarray, base: Any, p: Mapping[str, Any], name: str
) -> np.ndarray:
    return _weighted(ours, theirs, p["merge_alpha"])


def _task_arithmetic(
    ours: np.ndarray, theirs: np.ndarray, base: np.ndarray, p: Mapping[str, Any], name: str
) -> np.ndarray:
    w_ours, w_theirs = p["weights"]
    tau = (ours - base) * w_ours + (theirs - base) * w_theirs
    return _add_scaled(base, tau, p["lambda"])


def _trim(tau: np.ndarray, density: float) -> np.ndarray:
    """``tau`` with all but its ``density`` largest magnitudes set to zero."""
    keep = math.ceil(density * tau.size)
    if keep >= tau.size:
        return tau
    magnitude = np.abs(tau)
    magnitude[np.isnan(magnitude)] = np.inf  # NaN changes are kept (and propagate), not ranked last
    threshold = np.partition(magnitude.reshape(-1), tau.size - keep)[tau.size - keep]
    trimmed: np.ndarray = np.where(magnitude >= threshold, tau, tau.dtype.type(0))
    return trimmed


def _elect_and_average(taus: list[np.ndarray], weights: tuple[float, float]) -> np.ndarray:
    """TIES: the sign with the larger weighted total wins each element; the values that agree
    with it are averaged (weighted); elements where none agrees get zero, and elements where
    a kept change is NaN stay NaN."""
    elected = np.sign(sum(t * w for t, w in zip(taus, weights, strict=True)))
    total = np.zeros_like(taus[0])
    weight_sum = np.zeros_like(taus[0])
    for tau, weight in zip(taus, weights, strict=True):
        agrees = (np.sign(tau) == elected) & (tau != 0)
        total += np.where(agrees, tau * weight, 0)
        weight_sum += np.where(agrees, weight, 0)
    averaged: np.ndarray = np.divide(
        total, weight_sum, out=np.zeros_like(total), where=weight_sum != 0
    )
    # A NaN change (a diverged weight) is not a sign to vote with: it propagates, visibly.
    averaged[np.isnan(elected)] = np.nan
    return averaged


def _add_scaled(base: np.ndarray, tau: np.ndarray, scale: float) -> np.ndarray:
    merged: np.ndarray = base + tau * scale
    return merged


def _ties(
    ours: np.ndarray, theirs: np.ndarray, base: np.ndarray, p: Mapping[str, Any], name: str
) -> np.ndarray:
    taus = [_trim(ours - base, p["density"]), _trim(theirs - base, p["density"])]
    return _add_scaled(base, _elect_and_average(taus, p["weights"]), p["lambda"])


def _dare(
    ours: np.ndarray, theirs: np.ndarray, base: np.ndarray, p: Mapping[str, Any], name: str
) -> np.ndarray:
    density = p["density"]
    taus = []
    for side, value in enumerate((ours, theirs)):
        # One generator per (seed, tensor, side): the same merge re-run gives the same bytes,
        # whatever order the tensors are merged in.
        rng = np.random.default_rng([p["seed"], _name_key(name), side])
        keep = rng.random(value.shape, dtype=np.float32) < density
        tau = value - base
        if p["rescale"]:
            tau = tau / value.dtype.type(density)
        taus.append(np.where(keep, tau, value.dtype.type(0)))
    if p["sign_election"]:
        merged_tau = _elect_and_average(taus, p["weights"])
    else:
        w_ours, w_theirs = p["weights"]
        merged_tau = taus[0] * w_ours + taus[1] * w_theirs
    return _add_scaled(base, merged_tau, p["lambda"])


def _slerp(
    ours: np.ndarray, theirs: np.ndarray, base: Any, p: Mapping[str, Any], name: str
) -> np.ndarray:
    t = p["t"]
    norms = math.sqrt(_dot(ours, ours)) * math.sqrt(_dot(theirs, theirs))
    cosine = _dot(ours, theirs) / norms if norms else 1.0
    if not math.isfinite(cosine) or abs(cosine) > _PARALLEL_DOT:  # NaN/inf weights: linear
        return _weighted(ours, theirs, 1.0 - t)
    theta = math.acos(max(-1.0, min(1.0, cosine)))
    scale_ours = math.sin((1.0 - t) * theta) / math.sin(theta)
    scale_theirs = math.sin(t * theta) / math.sin(theta)
    return ours * scale_ours + theirs * scale_theirs


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Dot product accumulated in float64, a block at a time (no float64 copy of a tensor)."""
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    total = 0.0
    for start in range(0, flat_a.size, _DOT_BLOCK):
        stop = start + _DOT_BLOCK
        total += float(np.dot(flat_a[start:stop].astype(np.float64), flat_b[start:stop]))
    return total


def _endpoint(key: str, ours_at: float) -> Callable[[Mapping[str, Any]], Side | None]:
    """For interpolations: ours where ``params[key] == ours_at``, theirs at the other end."""

    def side(p: Mapping[str, Any]) -> Side | None:
        if p[key] in (0.0, 1.0):
            return "ours" if p[key] == ours_at else "theirs"
        return None

    return side


def _task_vector_side(
    normalized: Callable[[Mapping[str, Any]], bool],
) -> Callable[[Mapping[str, Any]], Side | None]:
    """For task-vector methods: the side whose whole change is added to the base once, with
    none of the other's (``base + tau_ours`` is ``ours``). ``normalized(params)``: whether the
    changes are averaged by their weights (sign election), so only ``lambda`` scales them."""

    def side(p: Mapping[str, Any]) -> Side | None:
        if p.get("density", 1.0) != 1.0:  # trimmed or dropped: part of a change is lost
            return None
        w_ours, w_theirs = p["weights"]
        sides: tuple[tuple[Side, float, float], ...] = (
            ("ours", w_ours, w_theirs),
            ("theirs", w_theirs, w_ours),
        )
        for chosen, weight, other in sides:
            if other == 0.0 and p["lambda"] * (1.0 if normalized(p) else weight) == 1.0:
                return chosen
        return None

    return side


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


# --- parameter checks ---


def _fraction(low_open: bool) -> Callable[[str, Any], float]:
    def check(method: str, value: Any) -> float:
        number = _number(method, value)
        ok = (0.0 < number <= 1.0) if low_open else (0.0 <= number <= 1.0)
        if not ok:
            interval = "(0, 1]" if low_open else "[0, 1]"
            raise InvalidValueError(f"{method}: expected a number in {interval}, got {value!r}")
        return number

    return check


def _number(method: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise InvalidValueError(f"{method}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidValueError(f"{method}: expected a finite number, got {value!r}")
    return number


def _weights(method: str, value: Any) -> tuple[float, float]:
    if isinstance(value, str) or not hasattr(value, "__len__") or len(value) != 2:
        raise InvalidValueError(
            f"{method}: weights must be two numbers (ours, theirs), got {value!r}"
        )
    pair = (_number(method, value[0]), _number(method, value[1]))
    if pair[0] < 0 or pair[1] < 0 or pair == (0.0, 0.0):
        raise InvalidValueError(f"{method}: weights must be >= 0 and not both 0, got {value!r}")
    return pair


def _flag(method: str, value: Any) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise InvalidValueError(f"{method}: expected True or False, got {value!r}")
    return bool(value)


def _seed(method: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InvalidValueError(f"{method}: seed must be an integer >= 0, got {value!r}")
    return int(value)


def _with_labels(check: Callable[[str, Any], Any], label: str) -> Callable[[str, Any], Any]:
    def labelled(method: str, value: Any) -> Any:
        return check(f"{method} {label}", value)

    return labelled


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "merge_alpha": _with_labels(_fraction(low_open=False), "merge_alpha"),
    "t": _with_labels(_fraction(low_open=False), "t"),
    "density": _with_labels(_fraction(low_open=True), "density"),
    "lambda": _with_labels(_number, "lambda"),
    "weights": _with_labels(_weights, "weights"),
    "rescale": _with_labels(_flag, "rescale"),
    "sign_election": _with_labels(_flag, "sign_election"),
    "seed": _with_labels(_seed, "seed"),
}

_TASK_VECTOR = {"lambda": 1.0, "weights": (1.0, 1.0)}

METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("average", False, {}, _average, keeps_equal_elements=True),
        Method(
            "weighted",
            False,
            {"merge_alpha": 0.5},
            _weighted_method,
            keeps_equal_elements=True,
            exact_side=_endpoint("merge_alpha", ours_at=1.0),
        ),
        Method(
            "task_arithmetic",
            True,
            _TASK_VECTOR,
            _task_arithmetic,
            exact_side=_task_vector_side(lambda p: False),
        ),
        Method(
            "ties",
            True,
            {**_TASK_VECTOR, "density": 0.5},
            _ties,
            exact_side=_task_vector_side(lambda p: True),
        ),
        Method(
            "dare",
            True,
            {**_TASK_VECTOR, "density": 0.5, "rescale": True, "sign_election": False, "seed": 0},
            _dare,
            exact_side=_task_vector_side(lambda p: bool(p["sign_election"])),
        ),
        Method("slerp", False, {"t": 0.5}, _slerp, exact_side=_endpoint("t", ours_at=0.0)),
    )
}
"""The methods that compute a new tensor, by strategy value."""
