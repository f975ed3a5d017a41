"""A tensor store that lives in a dict: fast unit tests and scratch work.

It runs the same conformance suite as the on-disk :class:`~coral.storage.pack_store.PackStore`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from coral.errors import ObjectNotFoundError
from coral.storage.array_cache import ArrayCache
from coral.storage.codecs import SHUFFLE_ZSTD, Codec, Encoded
from coral.storage.objects import DeltaPolicy, ObjectInfo
from coral.storage.store import ObjectWriter, TensorStore


class _MemoryWriter(ObjectWriter):
    def __init__(self, store: MemoryStore) -> None:
        super().__init__(store)
        self._memory = store
        self._pending: dict[str, tuple[ObjectInfo, np.ndarray]] = {}

    def _exists(self, oid: str) -> bool:
        return oid in self._pending or oid in self._memory

    def _write(self, info: ObjectInfo, encoded: Encoded) -> None:
        parts = [
            np.frombuffer(s, np.uint8) if isinstance(s, bytes) else s for s in encoded.segments
        ]
        payload = np.concatenate(parts) if parts else np.empty(0, np.uint8)
        self._pending[info.object_id] = (replace(info, location="memory"), payload)

    def _publish(self) -> None:
        with self._memory._lock:
            for oid, (info, payload) in self._pending.items():
                known = self._memory._objects.get(oid)
                if known is None or info.depth < known[0].depth:  # as PackStore: shortest chain
                    self._memory._objects[oid] = (info, payload)

    def _abort(self) -> None:
        self._pending.clear()


class MemoryStore(TensorStore):
    """A :class:`TensorStore` in memory."""

    def __init__(
        self,
        codec: Codec = SHUFFLE_ZSTD,
        delta_policy: DeltaPolicy | None = None,
        cache_bytes: int = 0,
    ) -> None:
        self.codec = codec
        self.delta_policy = delta_policy
        self.cache = ArrayCache(cache_bytes)
        self._objects: dict[str, tuple[ObjectInfo, np.ndarray]] = {}
        self._lock = threading.Lock()

    def info(self, oid: str) -> ObjectInfo:
        try:
            return self._objects[oid][0]
        except KeyError:
            raise ObjectNotFoundError(f"object {oid} is not in the store") from None

    def read_payload(self, info: ObjectInfo) -> np.ndarray:
        return self._objects[info.object_id][1]

    def object_ids(self) -> Iterator[str]:
        return iter(list(self._objects))

    def writer(self) -> ObjectWriter:
        return _MemoryWriter(self)
