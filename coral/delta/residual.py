"""Exact integer arithmetic on tensors' bit patterns: predictions and residuals.

Every tensor is viewed as unsigned integers of its element width (complex values as pairs of
64-bit halves), and all arithmetic wraps modulo 2**bits, so encode and decode are exact
inverses for every dtype and every bit pattern: NaN payloads, -0.0, infinities, subnormals.
No floating-point operation is ever involved, so results cannot depend on the CPU, the
compiler or rounding modes.

Measured on all-MiniLM-L6-v2 fine-tuned with AdamW (``benchmarks/bench_delta.py``):

* residual against the previous version: XOR 28.5% of raw, zigzag difference ~27%;
* against the linear prediction ``2*prev - prev2``: XOR 19-21%, zigzag difference 18-20%.

Zigzag maps the signed difference d to ``(d << 1) ^ (d >> bits-1)``, so small positive and
negative differences both become small numbers whose high bytes are zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from coral.core.dtypes import UINT_OF_SIZE, byte_view
from coral.core.kernels import scatter_planes
from coral.storage.workers import parallel_map

_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}

PREDICTORS = ("previous", "linear")
"""``previous``: the base itself. ``linear``: ``2*base0 - base1`` (base0 the newer)."""


def word_size(dtype: np.dtype[Any]) -> int:
    """Width in bytes of the integers a dtype is viewed as (complex: its halves)."""
    return min(dtype.itemsize, 8)


def as_words(arr: np.ndarray) -> np.ndarray:
    """A flat unsigned-integer view of a canonical array's bit patterns (no copy)."""
    return byte_view(arr).view(UINT_OF_SIZE[word_size(arr.dtype)])


def _words_of(arr: np.ndarray) -> np.ndarray:
    return arr if arr.dtype.kind == "u" and arr.ndim == 1 else as_words(arr)


def predict(bases: Sequence[np.ndarray], predictor: str) -> np.ndarray:
    """The prediction, as words, from base arrays or their word views (newest first)."""
    if predictor == "previous":
        return _words_of(bases[0])
    if predictor == "linear":
        newer, older = _words_of(bases[0]), _words_of(bases[1])
        prediction: np.ndarray = newer + newer  # wraps: unsigned arithmetic is modular
        prediction -= older
        return prediction
    raise ValueError(f"unknown predictor {predictor!r}")


def zigzag_residual(target_words: np.ndarray, prediction: np.ndarray) -> np.ndarray:
    """``zigzag(target - prediction)`` as unsigned words (a new array)."""
    bits = target_words.dtype.itemsize * 8
    diff = (target_words - prediction).view(_INT[target_words.dtype.itemsize])
    encoded: np.ndarray = (diff << 1) ^ (diff >> (bits - 1))
    return encoded.view(target_words.dtype)


def apply_zigzag_residual(residual: np.ndarray, prediction: np.ndarray, out: np.ndarray) -> None:
    """Write ``prediction + unzigzag(residual)`` into ``out`` (words of the same width).

    ``out`` may be ``residual`` itself.
    """
    one = residual.dtype.type(1)
    sign = residual & one
    np.negative(sign, out=sign)  # 0 or all ones: unsigned negation wraps
    magnitude = residual >> one
    np.bitwise_xor(magnitude, sign, out=magnitude)
    np.add(prediction, magnitude, out=out)


def reconstruct(
    residual: np.ndarray | None,
    base_words: Sequence[np.ndarray],
    predictor: str,
    out: np.ndarray,
    block: int = 1 << 18,
) -> None:
    """``out = prediction + unzigzag(residual)`` (just the prediction when ``residual`` is
    None), one cache-sized block at a time in parallel: every temporary stays in cache and
    NumPy releases the GIL. ``out`` may be ``residual`` itself."""

    def run(start: int) -> None:
        stop = min(start + block, out.size)
        prediction = predict([b[start:stop] for b in base_words], predictor)
        if residual is None:
            out[start:stop] = prediction
        else:
            apply_zigzag_residual(residual[start:stop], prediction, out[start:stop])

    parallel_map(run, range(0, out.size, block), total_bytes=out.nbytes)


def reconstruct_from_planes(
    planes: Sequence[np.ndarray],
    base_words: Sequence[np.ndarray],
    predictor: str,
    out: np.ndarray,
    block: int = 1 << 17,
) -> None:
    """``out = prediction + unzigzag(residual)`` where the residual is given as byte planes:
    the NumPy route of :func:`coral.core.kernels.fused_merge`, serial (the caller is already
    one of many parallel blocks), in sub-blocks sized by measurement (1 << 17 words)."""
    rows = out.view(np.uint8).reshape(-1, out.dtype.itemsize)
    for start in range(0, out.size, block):
        stop = min(start + block, out.size)
        scatter_planes([plane[start:stop] for plane in planes], rows[start:stop])
        prediction = predict([b[start:stop] for b in base_words], predictor)
        apply_zigzag_residual(out[start:stop], prediction, out[start:stop])
