"""Comparing two snapshots: which weights were added, removed or modified, and by how much.

Change statistics are computed in chunks of ``_CHUNK`` elements with float64 accumulators, so
the extra memory is a few MB whatever the tensor size.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from coral.core.dtypes import byte_view
from coral.records.commit import Commit

_CHUNK = 1 << 20


def diff_commits(
    old: Commit, new: Commit, load: Callable[[str], np.ndarray] | None = None
) -> dict[str, Any]:
    """Which weights ``new`` adds, removes and modifies relative to ``old``, as the plain dict
    ``repo.diff`` returns; with ``load`` (object ID -> array), per-tensor stats too.

    Returns:
        ``{"added": [names], "removed": [names],
        "modified": {name: {"from_hash", "to_hash"[, "stats"]}},
        "summary": {"total_added", "total_removed", "total_modified", "total_unchanged"}}``
    """
    a, b = old.weight_hashes, new.weight_hashes
    added = sorted(b.keys() - a.keys())
    removed = sorted(a.keys() - b.keys())
    common = sorted(a.keys() & b.keys())
    modified: dict[str, dict[str, Any]] = {}
    for name in common:
        if a[name] == b[name]:
            continue
        entry: dict[str, Any] = {"from_hash": a[name], "to_hash": b[name]}
        if load is not None:
            entry["stats"] = tensor_change_stats(load(a[name]), load(b[name]))
        modified[name] = entry
    return {
        "added": added,
        "removed": removed,
        "modified": modified,
        "summary": {
            "total_added": len(added),
            "total_removed": len(removed),
            "total_modified": len(modified),
            "total_unchanged": len(common) - len(modified),
        },
    }


def tensor_change_stats(old: np.ndarray, new: np.ndarray) -> dict[str, Any]:
    """How ``new`` differs from ``old``.

    Keys (same shape and dtype): ``elements``; ``fraction_changed`` (elements whose *bits*
    differ, so -0.0 vs 0.0 counts and an identical NaN does not); ``l2`` (norm of the change);
    ``relative_l2`` (``l2 / ||old||``, ``inf`` when ``old`` is all zeros and ``new`` is not);
    ``cosine_similarity`` (1.0 when both are all zeros, 0.0 when only one is);
    ``max_abs_diff``. When shape or dtype changed, only ``shape_changed``/``dtype_changed``
    and the two shapes/dtypes are reported. Complex tensors are compared as (real, imag) pairs.
    """
    if old.shape != new.shape or old.dtype != new.dtype:
        return {
            "shape_changed": old.shape != new.shape,
            "dtype_changed": old.dtype != new.dtype,
            "from_shape": list(old.shape),
            "to_shape": list(new.shape),
            "from_dtype": str(old.dtype),
            "to_dtype": str(new.dtype),
        }
    n = old.size
    if n == 0:
        return {
            "elements": 0,
            "fraction_changed": 0.0,
            "l2": 0.0,
            "relative_l2": 0.0,
            "cosine_similarity": 1.0,
            "max_abs_diff": 0.0,
        }
    old_bytes = byte_view(old).reshape(n, -1)
    new_bytes = byte_view(new).reshape(n, -1)
    flat_old, flat_new = _real_view(old), _real_view(new)
    per_element = flat_old.size // n
    changed = 0
    sq_diff = sq_old = sq_new = dot = 0.0
    max_abs = 0.0
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        changed += int(np.any(old_bytes[start:stop] != new_bytes[start:stop], axis=1).sum())
        x = flat_old[start * per_element : stop * per_element].astype(np.float64)
        y = flat_new[start * per_element : stop * per_element].astype(np.float64)
        d = y - x
        sq_diff += float(np.dot(d, d))
        sq_old += float(np.dot(x, x))
        sq_new += float(np.dot(y, y))
        dot += float(np.dot(x, y))
        max_abs = float(np.maximum(max_abs, np.abs(d).max()))  # propagates NaN
    norm_old, norm_new = math.sqrt(sq_old), math.sqrt(sq_new)
    l2 = math.sqrt(sq_diff)
    if norm_old > 0:
        relative = l2 / norm_old
    elif l2 == 0:
        relative = 0.0
    else:
        relative = math.inf
    if norm_old > 0 and norm_new > 0:
        cosine = dot / (norm_old * norm_new)
    else:
        cosine = 1.0 if norm_old == norm_new else 0.0
    return {
        "elements": n,
        "fraction_changed": changed / n,
        "l2": l2,
        "relative_l2": relative,
        "cosine_similarity": cosine,
        "max_abs_diff": max_abs,
    }


def _real_view(arr: np.ndarray) -> np.ndarray:
    flat = arr.reshape(-1)
    if np.issubdtype(arr.dtype, np.complexfloating):
        return flat.view(np.float32 if arr.dtype == np.complex64 else np.float64)
    if arr.dtype == np.bool_:
        return flat.view(np.uint8)
    return flat
