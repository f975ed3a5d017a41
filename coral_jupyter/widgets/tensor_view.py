"""Tensors made small enough to draw, and the numbers that describe a change.

A heatmap never gets more than :data:`MAX_CELLS` cells: the tensor is viewed as a matrix (rows
= first dimension, columns = everything else) and reduced block by block. Values are averaged
per block; the *change* keeps the largest-magnitude element of each block (signed), so a
single changed weight is never averaged away. Histograms are computed here (only the counts
go to the browser), on a fixed-seed sample of at most :data:`HISTOGRAM_SAMPLE` elements.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import numpy as np

MAX_CELLS = 256 * 256
HISTOGRAM_SAMPLE = 1 << 20
HISTOGRAM_BINS = 80
_SKETCH = 128


def as_matrix(arr: np.ndarray) -> np.ndarray:
    """A 2-D float view of any tensor: 0-d and 1-D become one row; N-D keep their first
    dimension as rows (output channels, vocabulary) and flatten the rest into columns."""
    values = np.asarray(arr)
    if values.dtype.kind not in "fiub":  # complex: magnitudes
        values = np.abs(values)
    if values.dtype.kind != "f" or values.dtype.itemsize < 4:  # ints, bool, float16/bfloat16
        values = values.astype(np.float32)
    if values.ndim == 0:
        return values.reshape(1, 1)
    if values.ndim == 1:
        return values.reshape(1, -1)
    return values.reshape(values.shape[0], -1)


def _blocks(rows: int, cols: int, max_cells: int) -> tuple[int, int]:
    """Block sizes (rows, cols) that reduce the matrix to at most ``max_cells`` cells, keeping
    its aspect ratio where the shape allows."""
    scale = math.sqrt(max_cells / (rows * cols))
    target_rows = min(rows, max(1, math.floor(rows * scale)))
    target_cols = min(cols, max(1, math.floor(cols * scale)))
    if target_rows in (1, rows):  # one side cannot shrink: the other takes the budget
        target_cols = min(cols, max(1, max_cells // target_rows))
    elif target_cols in (1, cols):
        target_rows = min(rows, max(1, max_cells // target_cols))
    return math.ceil(rows / target_rows), math.ceil(cols / target_cols)


def downsample(matrix: np.ndarray, max_cells: int = MAX_CELLS, mode: str = "mean") -> np.ndarray:
    """Reduce a 2-D array to at most ``max_cells`` cells by blocks (``mean``, or ``absmax``:
    the signed element of largest magnitude). Ragged edge blocks are reduced over what they
    hold. Returns the input itself when it is already small enough."""
    if mode not in ("mean", "absmax"):
        raise ValueError(f"unknown mode {mode!r}")
    rows, cols = matrix.shape
    if rows * cols <= max_cells:
        return matrix
    br, bc = _blocks(rows, cols, max_cells)
    out_rows, out_cols = math.ceil(rows / br), math.ceil(cols / bc)
    ragged = bool(rows % br or cols % bc)
    if ragged:  # pad with NaN and reduce ignoring it
        padded = np.full((out_rows * br, out_cols * bc), np.nan, dtype=np.float32)
        padded[:rows, :cols] = matrix
        matrix = padded
    tiles = matrix.reshape(out_rows, br, out_cols, bc)  # a view: no copy of the tensor
    mean, high_of, low_of = (
        (np.nanmean, np.nanmax, np.nanmin) if ragged else (np.mean, np.max, np.min)
    )
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN edge blocks
        if mode == "mean":
            return np.asarray(mean(tiles, axis=(1, 3), dtype=np.float64))
        high = high_of(tiles, axis=(1, 3))
        low = low_of(tiles, axis=(1, 3))
    return np.asarray(np.where(np.abs(high) >= np.abs(low), high, low))


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(counts, bin edges) of the finite values, on a fixed-seed sample for big tensors."""
    flat = np.asarray(values).reshape(-1)
    if flat.size > HISTOGRAM_SAMPLE:  # positions drawn with replacement: O(sample), not O(n)
        flat = flat[np.random.default_rng(0).integers(0, flat.size, HISTOGRAM_SAMPLE)]
    # In float64: a float32 (or bfloat16) tensor whose values span a few ulps has no room
    # for ``bins`` distinct edges in its own dtype, and NumPy refuses it.
    flat = flat[np.isfinite(flat)].astype(np.float64)
    if flat.size == 0:
        return np.zeros(0, np.int64), np.zeros(1)
    low, high = float(flat.min()), float(flat.max())
    if high - low <= max(abs(low), abs(high)) * 1e-12:  # (nearly) one value: one centred bar
        return np.histogram(flat, bins=bins, range=(low - 0.5, high + 0.5))
    return np.histogram(flat, bins=bins)


@dataclass(frozen=True)
class ChangeNumbers:
    """How one tensor changed from A to B."""

    l2: float
    relative_l2: float
    max_abs: float
    sign_flips: int
    elements: int
    effective_rank: float | None = None
    """exp(entropy) of the normalised singular values of the change (2-D tensors): near 1 for
    a rank-one update, near min(rows, cols) for a full-rank one."""
    rank_90: int | None = None
    """Singular values needed for 90% of the change's energy."""


def change_numbers(a: np.ndarray, b: np.ndarray, delta: np.ndarray | None = None) -> ChangeNumbers:
    """The numbers of a change; ``delta`` is ``as_matrix(b) - as_matrix(a)`` when the caller
    has it already."""
    fa, fb = as_matrix(a), as_matrix(b)
    delta = fb - fa if delta is None else delta
    l2 = _norm(delta)
    base = _norm(fa)
    flips = int(np.count_nonzero((np.signbit(fa) != np.signbit(fb)) & (fa != 0) & (fb != 0)))
    numbers = ChangeNumbers(
        l2=l2,
        relative_l2=l2 / base if base else (0.0 if l2 == 0 else math.inf),
        max_abs=float(np.max(np.abs(delta))) if delta.size else 0.0,
        sign_flips=flips,
        elements=int(delta.size),
    )
    if np.asarray(a).ndim == 2 and min(delta.shape) > 1 and l2 > 0 and math.isfinite(l2):
        singular = _singular_values(delta)
        energy = singular**2 / np.sum(singular**2)
        p = singular / np.sum(singular)
        p = p[p > 0]
        numbers = replace(
            numbers,
            effective_rank=float(np.exp(-np.sum(p * np.log(p)))),
            rank_90=int(np.searchsorted(np.cumsum(energy), 0.9) + 1),
        )
    return numbers


def _norm(values: np.ndarray) -> float:
    """L2 norm accumulated in float64, a block at a time."""
    flat = values.reshape(-1)
    total = 0.0
    for start in range(0, flat.size, 1 << 20):
        block = flat[start : start + (1 << 20)].astype(np.float64)
        total += float(np.dot(block, block))
    return math.sqrt(total)


def _singular_values(matrix: np.ndarray) -> np.ndarray:
    """Singular values; for big matrices, those of a random sketch ``M @ G`` with 128
    columns, which keeps the leading ones (all a low-rank update has)."""
    if min(matrix.shape) <= _SKETCH:
        return np.linalg.svd(matrix, compute_uv=False)
    gauss = (
        np.random.default_rng(0).standard_normal((matrix.shape[1], _SKETCH)).astype(matrix.dtype)
    )
    sketch = matrix @ gauss / math.sqrt(_SKETCH)
    return np.linalg.svd(sketch, compute_uv=False)
