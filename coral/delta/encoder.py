"""Choosing how to store a new version of a weight: which base, which predictor, or full.

For each new object the writer passes candidate bases (the same weight in the parent and
grandparent commits). The encoder

1. keeps candidates of the same dtype and shape whose chains stay within ``max_depth``;
2. estimates, on a fixed sample of the tensor, the size of every option: the full codec, the
   ``previous`` prediction (one base) and the ``linear`` prediction (two bases), so the
   expensive work is done once, for the winner;
3. encodes the winner (dense or sparse residual, whichever is smaller) and keeps it only if it
   is smaller than the full object (measured outright when the estimate is close).

The target may be a live buffer (``snapshot`` given): its bytes are then copied block by block,
hashed in order and used from the copy only, exactly like the full codecs do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from coral.core.dtypes import dtype_name
from coral.core.object_id import ObjectHasher
from coral.delta.codecs import SPARSE, ZIGZAG
from coral.delta.residual import as_words, predict, reconstruct, zigzag_residual
from coral.storage.codecs import Codec, Encoded
from coral.storage.objects import Encoding, ObjectInfo

_SAMPLE_WINDOWS = 8
_SAMPLE_ELEMENTS = 8192
_BLOCK_WORDS = 1 << 20
_SPARSE_FRACTION = 0.15
"""Try the sparse form when at most this fraction of elements changed."""
_CLEAR_WIN = 0.8
"""A delta below this fraction of the estimated full size is kept without encoding the full
object too; closer calls are settled by encoding both."""


@dataclass(frozen=True)
class _Option:
    predictor: str
    bases: tuple[str, ...]
    depth: int


class DeltaEncoder:
    """A :class:`~coral.storage.objects.DeltaPolicy`.

    Args:
        info: object ID -> :class:`ObjectInfo` (raises ``KeyError`` for unknown IDs).
        load: object ID -> decoded, read-only array (cached by the store).
        max_depth: longest delta chain a read may have to decode.
        predictors: which predictions to try (``"previous"``, ``"linear"``).
        sparse: try the sparse residual form.
    """

    def __init__(
        self,
        info: Callable[[str], ObjectInfo],
        load: Callable[[str], np.ndarray],
        max_depth: int,
        predictors: tuple[str, ...] = ("linear", "previous"),
        sparse: bool = True,
    ) -> None:
        self._info = info
        self._load = load
        self.max_depth = max_depth
        self.predictors = predictors
        self.sparse = sparse

    def encode(
        self,
        target: np.ndarray,
        candidates: tuple[str, ...],
        snapshot: ObjectHasher | None,
        full_codec: Codec,
    ) -> Encoding:
        options = self._options(target, candidates)
        if not options:
            return Encoding(full_codec.encode(target, snapshot))
        bases = {oid: self._load(oid) for option in options for oid in option.bases}
        full_estimate, option = self._pick(target, options, bases, full_codec)
        if option is None:
            return Encoding(full_codec.encode(target, snapshot))
        base_words = [as_words(bases[b]) for b in option.bases]
        residual = self._residual(target, base_words, option.predictor, snapshot)
        delta = self._encode_residual(residual, option.predictor)
        if delta.nbytes < _CLEAR_WIN * full_estimate:
            return Encoding(delta, option.bases, option.depth)
        # A close call: rebuild the (private) target from the residual and measure exactly.
        reconstruct(residual, base_words, option.predictor, residual)
        full = full_codec.encode(residual.view(target.dtype).reshape(target.shape))
        if delta.nbytes < full.nbytes:
            return Encoding(delta, option.bases, option.depth)
        return Encoding(full)

    def _options(self, target: np.ndarray, candidates: tuple[str, ...]) -> list[_Option]:
        infos: list[ObjectInfo] = []
        for oid in dict.fromkeys(candidates):  # unique, order kept (newest first)
            try:
                info = self._info(oid)
            except KeyError:
                continue
            if info.dtype == dtype_name(target.dtype) and info.shape == target.shape:
                infos.append(info)
        if not infos or target.size == 0:
            return []
        options = []
        if "linear" in self.predictors and len(infos) >= 2:
            depth = 1 + max(infos[0].depth, infos[1].depth)
            if depth <= self.max_depth:
                options.append(_Option("linear", (infos[0].object_id, infos[1].object_id), depth))
        if "previous" in self.predictors and infos[0].depth + 1 <= self.max_depth:
            options.append(_Option("previous", (infos[0].object_id,), infos[0].depth + 1))
        return options

    def _pick(
        self,
        target: np.ndarray,
        options: list[_Option],
        bases: dict[str, np.ndarray],
        full_codec: Codec,
    ) -> tuple[float, _Option | None]:
        """Estimated full size (bytes) and the option that beats it most, if any."""
        flat = target.reshape(-1)
        base_flat = {oid: arr.reshape(-1) for oid, arr in bases.items()}
        windows = _sample_windows(flat.size)
        scale = flat.size / sum(stop - start for start, stop in windows)

        def estimate(encode: Callable[[slice], Encoded]) -> float:
            return scale * sum(encode(slice(a, b)).nbytes for a, b in windows)

        def delta_size(option: _Option) -> float:
            def encode(w: slice) -> Encoded:
                prediction = predict([base_flat[b][w] for b in option.bases], option.predictor)
                residual = zigzag_residual(as_words(flat[w]), prediction)
                return ZIGZAG.encode_residual(residual, option.predictor)

            return estimate(encode)

        full = estimate(lambda w: full_codec.encode(flat[w]))
        best: tuple[float, _Option | None] = (full, None)
        for option in options:
            size = delta_size(option)
            if size < best[0]:
                best = (size, option)
        return full, best[1]

    @staticmethod
    def _residual(
        target: np.ndarray,
        base_words: list[np.ndarray],
        predictor: str,
        snapshot: ObjectHasher | None,
    ) -> np.ndarray:
        """The residual, block by block: the prediction is never built for the whole tensor."""
        words = as_words(target)
        residual = np.empty_like(words)
        for start in range(0, words.size, _BLOCK_WORDS):
            stop = min(start + _BLOCK_WORDS, words.size)
            block = words[start:stop]
            if snapshot is not None:  # a live buffer: work from (and hash) a private copy
                block = block.copy()
                snapshot.update(block)
            prediction = predict([b[start:stop] for b in base_words], predictor)
            residual[start:stop] = zigzag_residual(block, prediction)
        return residual

    def _encode_residual(self, residual: np.ndarray, predictor: str) -> Encoded:
        dense = ZIGZAG.encode_residual(residual, predictor)
        if self.sparse and np.count_nonzero(residual) <= _SPARSE_FRACTION * residual.size:
            sparse = SPARSE.encode_residual(residual, predictor)
            if sparse.nbytes < dense.nbytes:
                return sparse
        return dense


def _sample_windows(n: int) -> list[tuple[int, int]]:
    """Fixed windows of elements spread over the tensor (all of it when small)."""
    if n <= _SAMPLE_WINDOWS * _SAMPLE_ELEMENTS:
        return [(0, n)]
    step = n // _SAMPLE_WINDOWS
    return [(i * step, i * step + _SAMPLE_ELEMENTS) for i in range(_SAMPLE_WINDOWS)]
