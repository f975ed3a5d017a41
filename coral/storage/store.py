"""The tensor store interface and its in-memory implementation.

A store maps object IDs to tensors. Objects are immutable and content-addressed: writing an
object that exists is a no-op, and an object is never modified in place. Writes go through an
:class:`ObjectWriter` that publishes everything it wrote atomically when its ``with`` block
ends, or nothing if the block raises.

:class:`MemoryStore` keeps encoded objects in a dict; it runs the same conformance tests as the
on-disk :class:`~coral.storage.pack_store.PackStore` and makes unit tests fast.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import numpy as np

from coral.core.dtypes import byte_view, dtype_from_name, dtype_name
from coral.core.object_id import ObjectHasher, object_id
from coral.errors import CorruptObjectError, ObjectNotFoundError
from coral.storage.codecs import RAW, SHUFFLE_ZSTD, Codec, Encoded, get_codec


@dataclass(frozen=True)
class ObjectInfo:
    """Everything needed to decode one stored object, short of its payload.

    ``base_id`` names the object a delta is encoded against (``None`` for full objects);
    ``location`` is where the payload lives (a pack name on disk).
    """

    object_id: str
    dtype: str
    shape: tuple[int, ...]
    codec: str
    params: dict[str, Any] = field(default_factory=dict)
    raw_nbytes: int = 0
    stored_nbytes: int = 0
    base_id: str | None = None
    location: str = ""
    offset: int = -1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "codec": self.codec,
            "params": self.params,
            "raw_nbytes": self.raw_nbytes,
            "stored_nbytes": self.stored_nbytes,
        }
        if self.base_id is not None:
            out["base_id"] = self.base_id
        if self.offset >= 0:
            out["offset"] = self.offset
        return out

    @classmethod
    def from_dict(cls, oid: str, data: dict[str, Any], location: str = "") -> ObjectInfo:
        return cls(
            object_id=oid,
            dtype=str(data["dtype"]),
            shape=tuple(int(d) for d in data["shape"]),
            codec=str(data["codec"]),
            params=dict(data.get("params", {})),
            raw_nbytes=int(data["raw_nbytes"]),
            stored_nbytes=int(data["stored_nbytes"]),
            base_id=data.get("base_id"),
            location=location,
            offset=int(data.get("offset", -1)),
        )


class ObjectWriter(ABC):
    """Collects new objects; publishes them when the ``with`` block exits cleanly."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.written: list[ObjectInfo] = []
        self._queued: set[str] = set()

    def add(self, canonical: np.ndarray, oid: str | None = None) -> str:
        """Store a canonical array (see :func:`coral.core.dtypes.canonical_array`).

        Args:
            canonical: C-contiguous little-endian array of a supported dtype.
            oid: its object ID when the caller has already computed it.

        Returns:
            The object ID. Objects that already exist are not written again.
        """
        return self.add_many([(canonical, oid)])[0]

    def add_many(self, items: Iterable[tuple[np.ndarray, str | None]]) -> list[str]:
        """Store several arrays; like :meth:`add`, but object ``i + 1`` is encoded while
        object ``i`` is being written, so encoding (CPU) and writing (I/O) overlap.

        Items are consumed lazily, so a generator keeps at most two objects in flight.
        """
        oids: list[str] = []
        in_flight: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="coral-write") as io:
            for canonical, known_oid in items:
                dtype = dtype_name(canonical.dtype)
                # A known ID comes with an immutable array (a WeightTensor). Anything else may
                # be a live buffer that changes while we work: probe the store with a quick
                # hash, and if the object is new, encode from private block copies whose own
                # hash becomes the ID, so an ID always names exactly the bytes stored.
                oid = known_oid or object_id(canonical, dtype)
                if not self._exists(oid) and oid not in self._queued:
                    snapshot = None if known_oid else ObjectHasher(dtype, canonical.shape)
                    encoded = self.codec.encode(canonical, snapshot)
                    oid = snapshot.hexdigest() if snapshot is not None else oid
                    if not self._exists(oid) and oid not in self._queued:
                        self._queued.add(oid)
                        info = ObjectInfo(
                            object_id=oid,
                            dtype=dtype,
                            shape=tuple(canonical.shape),
                            codec=encoded.codec,
                            params=encoded.params,
                            raw_nbytes=int(canonical.nbytes),
                            stored_nbytes=encoded.nbytes,
                        )
                        if in_flight is not None:
                            in_flight.result()
                        in_flight = io.submit(self._write_and_record, info, encoded)
                oids.append(oid)
            if in_flight is not None:
                in_flight.result()
        return oids

    def _write_and_record(self, info: ObjectInfo, encoded: Encoded) -> None:
        self._write(info, encoded)
        self.written.append(info)

    def add_encoded(self, info: ObjectInfo, payload: np.ndarray) -> None:
        """Store an object exactly as another store holds it (remote transfer)."""
        if not self._exists(info.object_id):
            encoded = Encoded(info.codec, info.params, [payload])
            self._write(
                replace(info, location="", offset=-1, stored_nbytes=encoded.nbytes), encoded
            )
            self.written.append(info)

    @abstractmethod
    def _exists(self, oid: str) -> bool: ...

    @abstractmethod
    def _write(self, info: ObjectInfo, encoded: Encoded) -> None: ...

    @abstractmethod
    def _publish(self) -> None: ...

    @abstractmethod
    def _abort(self) -> None: ...

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self._publish()
        else:
            self._abort()


class TensorStore(ABC):
    """Content-addressed, immutable storage of tensors."""

    codec: Codec

    @abstractmethod
    def info(self, oid: str) -> ObjectInfo:
        """Metadata of one object; raises :class:`ObjectNotFoundError`."""

    @abstractmethod
    def read_payload(self, info: ObjectInfo) -> np.ndarray:
        """The stored bytes of one object as a flat uint8 array."""

    @abstractmethod
    def object_ids(self) -> Iterator[str]:
        """Every object ID the store holds."""

    @abstractmethod
    def writer(self) -> ObjectWriter:
        """A writer whose objects appear atomically when its ``with`` block ends."""

    def __contains__(self, oid: object) -> bool:
        if not isinstance(oid, str):
            return False
        try:
            self.info(oid)
        except ObjectNotFoundError:
            return False
        return True

    def read(self, oid: str, *, verify: bool = True) -> np.ndarray:
        """Decode one object into a new, writable, canonical array.

        Args:
            verify: re-hash the decoded bytes and raise :class:`CorruptObjectError` when they do
                not match ``oid`` (xxh3 runs at >10 GB/s, so this is cheap).
        """
        info = self.info(oid)
        return self._finish(info, *self._fetch(info), verify=verify)

    def read_many(self, oids: Sequence[str], *, verify: bool = True) -> Iterator[np.ndarray]:
        """Decode objects in order, fetching the next one's bytes while this one decodes."""
        infos = [self.info(oid) for oid in oids]
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="coral-read") as io:
            ahead = io.submit(self._fetch, infos[0]) if infos else None
            for i, info in enumerate(infos):
                assert ahead is not None
                fetched = ahead.result()
                ahead = io.submit(self._fetch, infos[i + 1]) if i + 1 < len(infos) else None
                yield self._finish(info, *fetched, verify=verify)

    def _fetch(self, info: ObjectInfo) -> tuple[np.ndarray, np.ndarray | None]:
        """Allocate the output and read the stored bytes (straight into it when raw)."""
        out = np.empty(info.shape, dtype=dtype_from_name(info.dtype))
        if info.codec == RAW.name and info.base_id is None:
            self._read_raw_into(info, byte_view(out))
            return out, None
        return out, self.read_payload(info)

    def _read_raw_into(self, info: ObjectInfo, out: np.ndarray) -> None:
        out[:] = self.read_payload(info)

    def _finish(
        self, info: ObjectInfo, out: np.ndarray, payload: np.ndarray | None, *, verify: bool
    ) -> np.ndarray:
        if payload is not None:
            get_codec(info.codec).decode(info.params, payload, byte_view(out))
        if verify:
            actual = object_id(out, info.dtype)
            if actual != info.object_id:
                raise CorruptObjectError(
                    f"object {info.object_id} (in {info.location or 'store'}) is corrupt: its "
                    f"bytes hash to {actual}; run repo.fsck() to list all damage"
                )
        return out

    def read_encoded(self, oid: str) -> tuple[ObjectInfo, np.ndarray]:
        """An object exactly as stored, for transfer to another store."""
        info = self.info(oid)
        return info, self.read_payload(info)

    def verify(self, oid: str) -> None:
        """Raise :class:`CorruptObjectError` if the object cannot be read back bit-exactly."""
        try:
            self.read(oid, verify=True)
        except (OSError, ValueError, KeyError) as err:
            if isinstance(err, CorruptObjectError):
                raise
            raise CorruptObjectError(f"object {oid} cannot be read: {err}") from err


class _MemoryWriter(ObjectWriter):
    def __init__(self, store: MemoryStore, codec: Codec) -> None:
        super().__init__(codec)
        self._store = store
        self._pending: dict[str, tuple[ObjectInfo, np.ndarray]] = {}

    def _exists(self, oid: str) -> bool:
        return oid in self._pending or oid in self._store

    def _write(self, info: ObjectInfo, encoded: Encoded) -> None:
        parts = [
            np.frombuffer(s, np.uint8) if isinstance(s, bytes) else s for s in encoded.segments
        ]
        payload = np.concatenate(parts) if parts else np.empty(0, np.uint8)
        self._pending[info.object_id] = (replace(info, location="memory"), payload)

    def _publish(self) -> None:
        with self._store._lock:
            self._store._objects.update(self._pending)

    def _abort(self) -> None:
        self._pending.clear()


class MemoryStore(TensorStore):
    """A store that lives in a dict (tests, scratch work)."""

    def __init__(self, codec: Codec = SHUFFLE_ZSTD) -> None:
        self.codec = codec
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
        return _MemoryWriter(self, self.codec)
