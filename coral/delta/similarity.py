"""Finding a delta base for a weight that has no previous version under its name.

A renamed layer, a branch that reorganised a model, or two fine-tunes of one base committed
under different names all hold tensors that are nearly equal to a stored one. Each stored
float tensor gets a 64-bit SimHash of a fixed sample of 256 of its elements (random
hyperplanes, fixed seed): the fraction of differing bits estimates the angle between two
tensors, so ``cos(pi * hamming / 64)`` estimates their cosine similarity. A new tensor's best
match of the same dtype and shape is used as a base when that estimate reaches
``core.similarity_threshold``; the delta encoder then keeps it only if it really is smaller.

The index is an append-only file of one JSON line per object (``objects/similarity.jsonl``),
a few dozen bytes each, loaded on first use: never a copy of any weights. A repository in
memory keeps it in memory only (``path=None``).
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np

from coral.core.dtypes import dtype_name, is_float_dtype
from coral.storage.fsutil import atomic_write_bytes, loads_json

_SAMPLE = 256
_BITS = 64
_PLANES = np.random.default_rng(0x5EED).standard_normal((_BITS, _SAMPLE))


def signature(arr: np.ndarray) -> int | None:
    """The SimHash of a float tensor's sample, or None (not float, or too small to tell)."""
    if not is_float_dtype(dtype_name(arr.dtype)) or arr.size < 16:
        return None
    flat = arr.reshape(-1)
    positions = np.linspace(0, flat.size - 1, num=min(_SAMPLE, flat.size)).astype(np.int64)
    sample = np.zeros(_SAMPLE)
    with np.errstate(invalid="ignore", over="ignore"):  # NaN/inf patterns: zeroed below
        values = flat[positions].astype(np.float64)
    sample[: values.size] = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    largest = np.abs(sample).max()
    if largest == 0:
        return None
    bits = (_PLANES @ (sample / largest)) > 0  # scaled: signs do not change, no overflow
    return int(np.packbits(bits).view(">u8")[0])


def estimated_cosine(a: int, b: int) -> float:
    return math.cos(math.pi * (a ^ b).bit_count() / _BITS)


class SimilarityIndex:
    """Object IDs by (dtype, shape), with their signatures; kept in ``path`` (None: in
    memory only)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._entries: dict[tuple[str, tuple[int, ...]], dict[str, int]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> dict[tuple[str, tuple[int, ...]], dict[str, int]]:
        with self._lock:
            if self._entries is None:
                entries: dict[tuple[str, tuple[int, ...]], dict[str, int]] = {}
                try:
                    lines = [] if self.path is None else self.path.read_bytes().splitlines()
                except FileNotFoundError:
                    lines = []
                for line in lines:
                    try:  # a line torn by a crash is skipped: this is only a hint
                        d = loads_json(line)
                        key = (str(d["dtype"]), tuple(int(x) for x in d["shape"]))
                        entries.setdefault(key, {})[str(d["oid"])] = int(d["sig"], 16)
                    except (ValueError, KeyError, TypeError):
                        continue
                self._entries = entries
            return self._entries

    def add(self, oid: str, arr: np.ndarray) -> None:
        """Remember a stored object (best effort: the index is only a hint)."""
        sig = signature(arr)
        if sig is None:
            return
        key = (dtype_name(arr.dtype), tuple(arr.shape))
        entries = self._load()
        if oid in entries.get(key, {}):
            return
        line = json.dumps(
            {"oid": oid, "dtype": key[0], "shape": list(key[1]), "sig": f"{sig:016x}"}
        )
        if self.path is not None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, (line + "\n").encode())
                finally:
                    os.close(fd)
            except OSError:
                return
        with self._lock:
            entries.setdefault(key, {})[oid] = sig

    def retain(self, keep: set[str], tmp_dir: Path) -> int:
        """Forget objects not in ``keep`` (gc, holding the gc lock exclusively, so no writer
        appends meanwhile); returns how many were forgotten."""
        entries = self._load()
        lines = []
        dropped = 0
        for (dtype, shape), sigs in entries.items():
            for oid, sig in sigs.items():
                if oid in keep:
                    record = {"oid": oid, "dtype": dtype, "shape": list(shape)}
                    lines.append(json.dumps({**record, "sig": f"{sig:016x}"}) + "\n")
                else:
                    dropped += 1
        if dropped and self.path is not None:
            atomic_write_bytes(self.path, "".join(lines).encode(), tmp_dir=tmp_dir)
            with self._lock:
                self._entries = None
        elif dropped:
            with self._lock:
                self._entries = {
                    key: {oid: sig for oid, sig in sigs.items() if oid in keep}
                    for key, sigs in entries.items()
                }
        return dropped

    def most_similar(self, arr: np.ndarray, threshold: float) -> str | None:
        """The stored object most like ``arr`` if its estimated cosine reaches ``threshold``."""
        sig = signature(arr)
        if sig is None:
            return None
        candidates = self._load().get((dtype_name(arr.dtype), tuple(arr.shape)), {})
        best = max(candidates.items(), key=lambda kv: -(kv[1] ^ sig).bit_count(), default=None)
        if best is None or estimated_cosine(best[1], sig) < threshold:
            return None
        return best[0]
