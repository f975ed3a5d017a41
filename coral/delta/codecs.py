"""Lossless delta codecs: a residual against a prediction from base objects.

``delta-zigzag``
    The residual ``zigzag(target - prediction)`` of every element, stored with an inner full
    codec (byte planes + zstd). Trained weights move a little in every element, so the high
    bytes of the residual are almost all zero and compress away.
``delta-sparse``
    Only the elements whose residual is non-zero: their indices (gaps, zstd) and residuals
    (byte planes + zstd). Wins when few elements change (sparse updates, frozen rows).

Both work on the integer view of every dtype and are exact inverses for every bit pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from coral.core.dtypes import UINT_OF_SIZE, as_buffer
from coral.core.kernels import LINEAR, PREVIOUS, fused_merge
from coral.delta.residual import (
    apply_zigzag_residual,
    as_words,
    reconstruct,
    reconstruct_from_planes,
)
from coral.errors import CorruptObjectError
from coral.storage import zstd
from coral.storage.codecs import (
    SHUFFLE_ZSTD,
    Encoded,
    ShuffleZstdCodec,
    get_codec,
    register_codec,
)

_MODES = {"previous": PREVIOUS, "linear": LINEAR}
_BASES_NEEDED = {"previous": 1, "linear": 2}


def _words(out: np.ndarray, word: int) -> np.ndarray:
    return out.view(UINT_OF_SIZE[word])


class ZigzagDeltaCodec:
    """A dense delta: the residual against the prediction, zigzag-mapped so small changes of
    either sign are small integers, byte-shuffled and zstd-compressed."""

    name = "delta-zigzag"

    def encode_residual(self, residual: np.ndarray, predictor: str) -> Encoded:
        inner = SHUFFLE_ZSTD.encode(residual)
        params = {
            "predictor": predictor,
            "word": residual.dtype.itemsize,
            "inner_codec": inner.codec,
            "inner": inner.params,
        }
        return Encoded(self.name, params, inner.segments)

    def decode(
        self,
        params: dict[str, Any],
        payload: np.ndarray,
        out: np.ndarray,
        bases: Sequence[np.ndarray] = (),
    ) -> None:
        word = int(params["word"])
        _check_bases(bases, out.size, self.name)
        if word not in UINT_OF_SIZE or out.size % word:
            raise CorruptObjectError(f"{self.name} object's word size is invalid")
        target = _words(out, word)
        base_words = [as_words(b) for b in bases]
        inner_word = int(params["inner"].get("itemsize", word))
        if inner_word != word or any(b.dtype.itemsize != word for b in base_words):
            raise CorruptObjectError(f"{self.name} object's word size does not match its bases")
        predictor = params["predictor"]
        inner = get_codec(params["inner_codec"])
        if not isinstance(inner, ShuffleZstdCodec):
            # Residual stored raw (it did not compress): decode it in place, then add.
            inner.decode(params["inner"], payload, out)
            reconstruct(target, base_words, predictor, target)
            return
        mode = _MODES.get(predictor)
        if mode is None or len(base_words) < _BASES_NEEDED[predictor]:
            raise CorruptObjectError(f"{self.name} object names unknown predictor {predictor!r}")

        def merge(start: int, stop: int, planes: list[np.ndarray]) -> None:
            # Planes, prediction and residual in one pass over the block.
            block_bases = [b[start:stop] for b in base_words]
            if not fused_merge(planes, target[start:stop], mode, *block_bases):
                reconstruct_from_planes(planes, block_bases, predictor, target[start:stop])

        inner.decode_planes(params["inner"], payload, out.size, merge)


class SparseDeltaCodec:
    """A sparse delta: only the positions whose residual is not zero (gap-coded indices)
    and their residuals, for updates that touch a few elements."""

    name = "delta-sparse"

    def encode_residual(self, residual: np.ndarray, predictor: str) -> Encoded:
        indices = np.flatnonzero(residual)
        index_dtype = np.uint32 if residual.size < 2**32 else np.uint64
        gaps = np.diff(indices, prepend=0).astype(index_dtype)
        index_frame = zstd.compress(as_buffer(gaps))
        values = SHUFFLE_ZSTD.encode(residual[indices])
        params = {
            "predictor": predictor,
            "word": residual.dtype.itemsize,
            "count": int(indices.size),
            "index_dtype": np.dtype(index_dtype).name,
            "index_bytes": len(index_frame),
            "values_codec": values.codec,
            "values": values.params,
        }
        return Encoded(self.name, params, [index_frame, *values.segments])

    def decode(
        self,
        params: dict[str, Any],
        payload: np.ndarray,
        out: np.ndarray,
        bases: Sequence[np.ndarray] = (),
    ) -> None:
        word, count = int(params["word"]), int(params["count"])
        _check_bases(bases, out.size, self.name)
        split = int(params["index_bytes"])
        # Checked before anything is allocated: these come from a stored (maybe foreign) header.
        if word not in UINT_OF_SIZE or out.size % word or not 0 <= count <= out.size // word:
            raise CorruptObjectError(f"{self.name} object's word or count is invalid")
        if params["index_dtype"] not in ("uint32", "uint64") or not 0 <= split <= payload.size:
            raise CorruptObjectError(f"{self.name} object's index is invalid")
        index_dtype = np.dtype(params["index_dtype"])
        raw_gaps = zstd.decompress(as_buffer(payload[:split]), count * index_dtype.itemsize)
        indices = np.cumsum(np.frombuffer(raw_gaps, dtype=index_dtype), dtype=np.uint64)
        values = np.empty(count, dtype=UINT_OF_SIZE[word])
        get_codec(params["values_codec"]).decode(
            params["values"], payload[split:], values.view(np.uint8)
        )
        target = _words(out, word)
        if count and int(indices[-1]) >= target.size:
            raise CorruptObjectError("delta-sparse object points outside its tensor")
        reconstruct(None, [as_words(b) for b in bases], params["predictor"], target)
        apply_zigzag_residual(values, target[indices], values)
        target[indices] = values


def _check_bases(bases: Sequence[np.ndarray], nbytes: int, codec: str) -> None:
    if not bases or any(b.nbytes != nbytes for b in bases):
        raise CorruptObjectError(f"{codec} object decoded without bases of its own size")


ZIGZAG = ZigzagDeltaCodec()
SPARSE = SparseDeltaCodec()
# The storage layer reads objects by codec name and cannot import this layer: importing
# coral.delta (as coral.records.store_setup does for every repository) registers these.
register_codec(ZIGZAG)
register_codec(SPARSE)
