"""Lossless codecs for full tensor objects.

Measured on this kind of machine (see ``benchmarks/``): trained float weights are nearly
incompressible as a byte stream, but their *exponent* bytes are not. Splitting the canonical
bytes into byte planes (byte ``i`` of every element together) and compressing only the planes
that shrink gives ZipNN-like ratios (~84% of raw for float32) at several hundred MB/s, where
gzip manages ~30 MB/s. Planes are cut into 1 MiB chunks, each its own zstd frame, so encode and
decode use every core and a corrupt chunk stays local.

Codecs are small objects with a ``name`` (recorded with every stored object) and
``encode``/``decode``. ``decode`` writes into a caller-provided byte buffer, so a read allocates
the output once. Readers find a codec by name with :func:`get_codec`; the registry starts with
the full codecs defined here, and layers above add theirs with :func:`register_codec` (the
delta codecs register themselves when ``coral.delta`` is imported), so this module never
imports upward. All codecs here are bit-exact for every dtype by construction: they move bytes,
never values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from coral.core.dtypes import FLOAT_DTYPE_NAMES, UINT_OF_SIZE, as_buffer, byte_view, dtype_name
from coral.core.kernels import fused_merge, scatter_planes, warm_up_for
from coral.core.object_id import ObjectHasher
from coral.errors import CorruptObjectError
from coral.storage import zstd
from coral.storage.workers import map_blocks, parallel_map

CHUNK_BYTES = 1 << 20
"""Plane bytes per zstd frame."""
_MIN_CHUNK = 1 << 12  # the smallest chunk a reader accepts (all are CHUNK_BYTES when written)

_SAMPLE_WINDOWS = 4
_SAMPLE_BYTES = 32 << 10
_INCOMPRESSIBLE_RATIO = 0.93
"""A plane whose sample does not shrink below this ratio is stored raw (saves the CPU)."""

_SNAPSHOT_BYTES = 4 << 20
"""Block size of private copies taken from arrays that may change while they are encoded."""


Buffer = bytes | np.ndarray
PlaneSink = Callable[[int, int, list[np.ndarray]], None]
"""Receives the decoded byte planes of rows ``[start, stop)`` of an object."""


@dataclass(frozen=True)
class Encoded:
    """A codec's output: JSON-ready parameters plus the payload as a list of segments."""

    codec: str
    params: dict[str, Any]
    segments: Sequence[Buffer]

    @property
    def nbytes(self) -> int:
        return sum(_buffer_len(s) for s in self.segments)


class Decoder(Protocol):
    """What the store needs to read an object: a name and ``decode``."""

    name: str

    def decode(
        self,
        params: dict[str, Any],
        payload: np.ndarray,
        out: np.ndarray,
        bases: Sequence[np.ndarray] = (),
    ) -> None:
        """Write the decoded canonical bytes into ``out`` (a flat uint8 array); delta codecs
        read their base arrays from ``bases``."""
        ...


class Codec(Decoder, Protocol):
    """A codec for full objects."""

    def encode(self, canonical: np.ndarray, snapshot: ObjectHasher | None = None) -> Encoded:
        """Encode ``canonical``.

        With ``snapshot``, the array may be changing under us (a live training buffer): the
        codec must encode only from private copies that it takes in order, block by block,
        feeding each copy to ``snapshot``, so the hasher's ID is the ID of exactly the bytes
        encoded.
        """
        ...


class RawCodec:
    """The canonical bytes as they are (also what ``core.compression = "none"`` stores)."""

    name = "raw"

    def encode(self, canonical: np.ndarray, snapshot: ObjectHasher | None = None) -> Encoded:
        data = byte_view(canonical)
        if snapshot is None:
            return Encoded(self.name, {}, [data])
        step = _SNAPSHOT_BYTES
        blocks = (data[i : i + step] for i in range(0, data.size, step))
        return Encoded(self.name, {}, map_blocks(lambda copy: copy, blocks, snapshot, data.size))

    def decode(
        self,
        params: dict[str, Any],
        payload: np.ndarray,
        out: np.ndarray,
        bases: Sequence[np.ndarray] = (),
    ) -> None:
        _check_size(payload.size, out.size, self.name)
        out[:] = payload


class ShuffleZstdCodec:
    """Byte-plane split, then zstd on the planes that compress; raw for the rest.

    Falls back to :class:`RawCodec` output when no plane compresses (e.g. random bytes),
    so incompressible tensors are read back with a single copy.
    """

    name = "shuffle-zstd"

    def encode(self, canonical: np.ndarray, snapshot: ObjectHasher | None = None) -> Encoded:
        itemsize = canonical.dtype.itemsize
        columns = byte_view(canonical).reshape(-1, itemsize)
        swap = _swaps_sign(canonical.dtype)
        compress_plane = self._planes_that_compress(columns, swap)
        if not any(compress_plane):
            return RAW.encode(canonical, snapshot)
        rows = columns.shape[0]
        bounds = [(start, min(start + CHUNK_BYTES, rows)) for start in range(0, rows, CHUNK_BYTES)]

        def run(block: np.ndarray) -> list[tuple[Buffer, bool]]:
            # One transposing copy per block reads the source once (plane by plane would
            # read it itemsize times); each plane of the block becomes one segment.
            planes = _split_planes(block, swap)
            out: list[tuple[Buffer, bool]] = []
            for p in range(itemsize):
                if compress_plane[p]:
                    frame = zstd.compress(as_buffer(planes[p]))
                    if len(frame) < planes[p].size:
                        out.append((frame, True))
                        continue
                out.append((planes[p], False))
            return out

        blocks = (columns[start:stop] for start, stop in bounds)
        results = map_blocks(run, blocks, snapshot, canonical.nbytes)
        # Payload order is plane-major: every chunk of plane 0, then of plane 1, ...
        segments = [results[b][p][0] for p in range(itemsize) for b in range(len(bounds))]
        planes = [
            [[_buffer_len(results[b][p][0]), int(results[b][p][1])] for b in range(len(bounds))]
            for p in range(itemsize)
        ]
        params: dict[str, Any] = {"itemsize": itemsize, "chunk": CHUNK_BYTES, "planes": planes}
        if swap:
            params["sign_swap"] = 1
        return Encoded(self.name, params, segments)

    def decode(
        self,
        params: dict[str, Any],
        payload: np.ndarray,
        out: np.ndarray,
        bases: Sequence[np.ndarray] = (),
    ) -> None:
        itemsize = _itemsize(params, out.size)
        columns = out.reshape(-1, itemsize)
        words = out.view(UINT_OF_SIZE[itemsize]) if itemsize in UINT_OF_SIZE else None

        def merge(start: int, stop: int, planes: list[np.ndarray]) -> None:
            if words is None or not fused_merge(planes, words[start:stop]):
                scatter_planes(planes, columns[start:stop])

        self.decode_planes(params, payload, out.size, merge)

    def decode_planes(
        self, params: dict[str, Any], payload: np.ndarray, nbytes: int, sink: PlaneSink
    ) -> None:
        """Decompress an object of ``nbytes`` block by block, in parallel, handing each block's
        planes to ``sink(first_row, stop_row, planes)``, which puts them together (delta codecs
        add their prediction in the same pass)."""
        itemsize = _itemsize(params, nbytes)
        chunk = int(params["chunk"])
        frames = params["planes"]
        rows = nbytes // itemsize
        if chunk <= 0 or chunk < min(rows, _MIN_CHUNK) or not isinstance(frames, list):
            # Chunks are CHUNK_BYTES when written; a tiny one (from a damaged or hostile
            # header) would make millions of blocks before anything else is checked.
            raise CorruptObjectError("stored shuffle-zstd object has an invalid chunk size")
        count = -(-rows // chunk)
        if len(frames) != itemsize or any(
            not isinstance(f, list) or len(f) != count for f in frames
        ):
            raise CorruptObjectError("stored shuffle-zstd object lists the wrong chunks")
        swap = bool(params.get("sign_swap", 0))
        blocks = [(start, min(start + chunk, rows)) for start in range(0, rows, chunk)]
        # where[p][b] = (payload begin, payload end, zstd?) of plane p's chunk in block b
        where: list[list[tuple[int, int, bool]]] = []
        offset = 0
        for plane_frames in frames:
            if len(plane_frames) != len(blocks):
                raise CorruptObjectError("stored shuffle-zstd object lists the wrong chunks")
            where.append([])
            for size, compressed in plane_frames:
                if int(size) < 0:
                    raise CorruptObjectError("stored shuffle-zstd object has a negative frame")
                where[-1].append((offset, offset + int(size), bool(compressed)))
                offset += int(size)
        _check_size(payload.size, offset, self.name)
        warm_up_for(nbytes)

        def run(b: int) -> None:
            start, stop = blocks[b]
            planes = []
            for p in range(itemsize):
                begin, end, compressed = where[p][b]
                segment = payload[begin:end]
                if compressed:
                    raw = zstd.decompress(as_buffer(segment), stop - start)
                    segment = np.frombuffer(raw, dtype=np.uint8)
                _check_size(segment.size, stop - start, self.name)
                planes.append(segment)
            if swap:
                planes[-2], planes[-1] = _unswap_sign(planes[-2], planes[-1])
            sink(start, stop, planes)

        parallel_map(run, range(len(blocks)), total_bytes=nbytes)

    @staticmethod
    def _planes_that_compress(columns: np.ndarray, swap: bool) -> list[bool]:
        """Which byte planes shrink, judged on a sample of rows (all of them when small)."""
        rows = columns.shape[0]
        if rows == 0:
            return [False] * columns.shape[1]
        if rows <= _SAMPLE_WINDOWS * _SAMPLE_BYTES:
            sample = columns
        else:
            step = rows // _SAMPLE_WINDOWS
            sample = np.concatenate(
                [columns[i * step : i * step + _SAMPLE_BYTES] for i in range(_SAMPLE_WINDOWS)]
            )
        planes = _split_planes(sample, swap)
        return [
            len(zstd.compress(as_buffer(plane))) < _INCOMPRESSIBLE_RATIO * plane.size
            for plane in planes
        ]


def _itemsize(params: dict[str, Any], nbytes: int) -> int:
    itemsize = int(params["itemsize"])
    if itemsize not in (1, 2, 4, 8, 16) or nbytes % itemsize:  # up to complex128
        raise CorruptObjectError("stored shuffle-zstd object does not match its dtype size")
    return itemsize


def _swaps_sign(dtype: np.dtype[Any]) -> bool:
    """For 16-bit floats, the sign bit and the lowest exponent bit trade places before
    compression, so bfloat16's top byte plane holds its 8 exponent bits and no sign, and
    compresses to its entropy (measured: 67.1% -> 66.6% of raw). float32 would gain only 0.3
    points for 25-35% more encoding time (measured), so it is left alone."""
    return dtype.itemsize == 2 and dtype_name(dtype) in FLOAT_DTYPE_NAMES


def _split_planes(rows: np.ndarray, swap: bool) -> np.ndarray:
    """(itemsize, n) byte planes of a (n, itemsize) block of rows."""
    # A copy whenever we modify it (the transpose of a single row is a view of the input).
    planes = np.array(rows.T, order="C") if swap else np.ascontiguousarray(rows.T)
    if swap:
        top, below = planes[-1].copy(), planes[-2]
        planes[-1] <<= 1
        planes[-1] |= below >> 7  # the top byte: exponent bits only
        below &= 0x7F
        below |= top & 0x80  # the sign, where the lowest exponent bit was
    return planes


def _unswap_sign(below: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undo :func:`_split_planes`'s swap: the original (second-highest, highest) planes."""
    original_top = (below & 0x80) | (top >> 1)
    original_below = (below & 0x7F) | ((top & 1) << 7)
    return original_below, original_top


RAW = RawCodec()
SHUFFLE_ZSTD = ShuffleZstdCodec()

_CODECS: dict[str, Decoder] = {RAW.name: RAW, SHUFFLE_ZSTD.name: SHUFFLE_ZSTD}
"""Every codec an object may name, by name. Layers above add theirs with
:func:`register_codec` when they are imported (``coral.delta`` registers the delta codecs)."""


def get_codec(name: str) -> Decoder:
    """The codec an object was stored with.

    Raises:
        CorruptObjectError: no codec of that name is registered.
    """
    try:
        return _CODECS[name]
    except KeyError:
        known = ", ".join(sorted(_CODECS))
        raise CorruptObjectError(
            f"object stored with unknown codec {name!r} (registered: {known}); delta codecs "
            "are registered by importing coral.delta, and any other may come from a newer Coral"
        ) from None


def register_codec(codec: Decoder) -> None:
    """Make ``codec`` available for decoding under its ``name``."""
    _CODECS[codec.name] = codec


def _check_size(actual: int, expected: int, codec: str) -> None:
    if actual != expected:
        raise CorruptObjectError(
            f"{codec} payload holds {actual} bytes where {expected} were expected"
        )


def _buffer_len(buf: Buffer) -> int:
    return buf.size if isinstance(buf, np.ndarray) else len(buf)
