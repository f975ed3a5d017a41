"""The one lossy option: ``int8_quantized`` deltas (explicit opt-in only).

The change from the previous version is rounded to 255 levels (int8 steps of
``max|change| / 127``); what is committed is exactly ``base + q * step`` in float64, cast back
to the weight's dtype. That reconstruction is then stored losslessly like any tensor (its small
residual against the base compresses well), so reads are deterministic and verified: they
return the *reconstruction*, bit-exact, and its metadata says ``lossy: int8_quantized``.
"""

from __future__ import annotations

import numpy as np

from coral.core.dtypes import dtype_name, is_float_dtype

LOSSY_KIND = "int8_quantized"


def quantize_int8(target: np.ndarray, base: np.ndarray) -> np.ndarray | None:
    """``base`` plus ``target - base`` rounded to int8 steps, in ``target``'s dtype; None when
    the tensor is left exact (not a float, shapes differ, non-finite values, no change)."""
    if (
        target.shape != base.shape
        or target.dtype != base.dtype
        or not is_float_dtype(dtype_name(target.dtype))
    ):
        return None
    t = target.astype(np.float64)
    b = base.astype(np.float64)
    if not (np.isfinite(t).all() and np.isfinite(b).all()):
        return None
    change = t - b
    largest = float(np.abs(change).max()) if change.size else 0.0
    if largest == 0.0:
        return None
    step = largest / 127.0
    steps = np.clip(np.rint(change / step), -127, 127)
    reconstruction: np.ndarray = (b + steps * step).astype(target.dtype)
    return reconstruction
