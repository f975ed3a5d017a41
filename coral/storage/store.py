"""The tensor store interface: content-addressed, immutable objects.

A store maps object IDs to tensors. Writing an object that exists is a no-op, and an object is
never modified in place. Writes go through an :class:`ObjectWriter` that publishes everything
it wrote atomically when its ``with`` block ends, or nothing if the block raises.

An object is stored either full or as a delta against other objects (its ``bases``); reads
reconstruct delta chains transparently, bit-exact, and verify the result against its ID.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from types import TracebackType
from typing import TypeVar

import numpy as np

from coral.core.dtypes import byte_view, dtype_from_name, dtype_name
from coral.core.object_id import ObjectHasher, object_id
from coral.errors import CorruptObjectError, ObjectNotFoundError
from coral.storage.array_cache import ArrayCache
from coral.storage.codecs import RAW, Codec, Encoded, get_codec
from coral.storage.objects import DeltaPolicy, Encoding, ObjectInfo, WriteRequest

__all__ = ["ObjectInfo", "ObjectWriter", "PackGoneError", "TensorStore", "WriteRequest"]

_READ_AHEAD = 2
"""Objects decoded ahead of the one being returned by read_many."""

T = TypeVar("T")


class PackGoneError(ObjectNotFoundError):
    """An object's recorded location no longer exists (gc moved it): look it up again."""


class ObjectWriter(ABC):
    """Collects new objects; publishes them when the ``with`` block exits cleanly."""

    def __init__(self, store: TensorStore) -> None:
        self.store = store
        self.written: list[ObjectInfo] = []
        self._queued: set[str] = set()

    def add(self, canonical: np.ndarray, oid: str | None = None) -> str:
        """Store a canonical array (see :func:`coral.core.dtypes.canonical_array`).

        Args:
            canonical: C-contiguous little-endian array of a supported dtype.
            oid: its object ID when the caller has already computed it (the array is then
                trusted not to change).

        Returns:
            The object ID. Objects that already exist are not written again.
        """
        return self.add_many([WriteRequest(canonical, oid)])[0]

    def add_many(self, requests: Iterable[WriteRequest]) -> list[str]:
        """Store several arrays; like :meth:`add`, but object ``i + 1`` is encoded while
        object ``i`` is being written, so encoding (CPU) and writing (I/O) overlap.

        Requests are consumed lazily, so a generator keeps at most two objects in flight.
        """
        oids: list[str] = []
        in_flight: Future[None] | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="coral-write") as io:
            for request in requests:
                oid, info, encoded = self._prepare(request)
                if info is not None and encoded is not None:
                    if in_flight is not None:
                        in_flight.result()
                    in_flight = io.submit(self._write_and_record, info, encoded)
                    if request.object_id is not None:
                        # Immutable (a WeightTensor's data): keep it for the next commit's deltas.
                        self.store.cache.put(oid, request.array)
                oids.append(oid)
            if in_flight is not None:
                in_flight.result()
        return oids

    def _prepare(self, request: WriteRequest) -> tuple[str, ObjectInfo | None, Encoded | None]:
        canonical = request.array
        dtype = dtype_name(canonical.dtype)
        # A known ID comes with an immutable array. Anything else may be a live buffer that
        # changes while we work: probe the store with a quick hash, and if the object is new,
        # encode from private copies whose own hash becomes the ID (the codecs take them), so
        # an ID always names exactly the bytes stored.
        oid = request.object_id or object_id(canonical, dtype)
        if self._known(oid):
            return oid, None, None
        snapshot = None if request.object_id else ObjectHasher(dtype, canonical.shape)
        encoding = self._encode(canonical, request.bases, snapshot)
        oid = snapshot.hexdigest() if snapshot is not None else oid
        if self._known(oid):
            return oid, None, None
        self._queued.add(oid)
        info = ObjectInfo(
            object_id=oid,
            dtype=dtype,
            shape=tuple(canonical.shape),
            codec=encoding.encoded.codec,
            params=encoding.encoded.params,
            raw_nbytes=int(canonical.nbytes),
            stored_nbytes=encoding.encoded.nbytes,
            bases=encoding.bases,
            depth=encoding.depth,
        )
        return oid, info, encoding.encoded

    def rewrite_full(self, oid: str, canonical: np.ndarray) -> None:
        """Store an existing object again, as a full object (repack: cuts a delta chain).

        ``canonical`` must be that object's exact content; it is verified."""
        actual = object_id(canonical, dtype_name(canonical.dtype))
        if actual != oid:
            raise CorruptObjectError(f"rewrite of {oid} was given the content of {actual}")
        encoded = self.store.codec.encode(canonical)
        info = ObjectInfo(
            object_id=oid,
            dtype=dtype_name(canonical.dtype),
            shape=tuple(canonical.shape),
            codec=encoded.codec,
            params=encoded.params,
            raw_nbytes=int(canonical.nbytes),
            stored_nbytes=encoded.nbytes,
        )
        self._write_and_record(info, encoded)

    def _encode(
        self, canonical: np.ndarray, candidates: tuple[str, ...], snapshot: ObjectHasher | None
    ) -> Encoding:
        delta = self.store.delta_policy
        if delta is not None and candidates:
            return delta.encode(canonical, candidates, snapshot, self.store.codec)
        return Encoding(self.store.codec.encode(canonical, snapshot))

    def _known(self, oid: str) -> bool:
        return oid in self._queued or self._exists(oid)

    def _write_and_record(self, info: ObjectInfo, encoded: Encoded) -> None:
        self._write(info, encoded)
        self.written.append(info)

    def copy(self, info: ObjectInfo, payload: np.ndarray) -> None:
        """Store an object's stored form again, even though the store has it (gc moving the
        objects still needed out of a pack it is about to delete)."""
        if info.object_id not in self._queued:
            self._queued.add(info.object_id)
            self._write_and_record(replace(info, location="", offset=-1), payload_as(info, payload))

    def add_encoded(self, info: ObjectInfo, payload: np.ndarray) -> None:
        """Store an object exactly as another store holds it (remote transfer)."""
        if not self._known(info.object_id):
            encoded = payload_as(info, payload)
            self._queued.add(info.object_id)
            self._write_and_record(
                replace(info, location="", offset=-1, stored_nbytes=encoded.nbytes), encoded
            )

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
    """Content-addressed, immutable storage of tensors.

    Attributes:
        codec: the codec new full objects are written with.
        delta_policy: decides delta encodings for writes that name candidate bases (None:
            every object is stored full).
        cache: recently written or read arrays, so a delta's bases are rarely decoded twice.
    """

    codec: Codec
    delta_policy: DeltaPolicy | None = None
    cache: ArrayCache

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

    def guard_writes(self) -> AbstractContextManager[None]:
        """Held from an operation's first look at the store until what it stored is
        referenced, so gc cannot delete what it relies on (nothing to guard by default)."""
        return nullcontext()

    def refresh(self) -> None:  # noqa: B027 (optional hook: in-memory stores have nothing to do)
        """Catch up with objects other processes stored or gc moved (nothing by default)."""

    def close(self) -> None:  # noqa: B027 (optional hook: in-memory stores hold no files)
        """Release open files; they are reopened on demand (nothing by default)."""

    def _fresh(self, oid: str, read: Callable[[ObjectInfo], T]) -> T:
        """``read(info)``, looked up once more if gc moved the object meanwhile."""
        try:
            return read(self.info(oid))
        except PackGoneError:
            self.refresh()
            return read(self.info(oid))

    def __contains__(self, oid: object) -> bool:
        if not isinstance(oid, str):
            return False
        try:
            self.info(oid)
        except ObjectNotFoundError:
            return False
        return True

    # --- reads ---

    def read(self, oid: str, *, verify: bool = True) -> np.ndarray:
        """Decode one object (through its delta chain) into a new, writable, canonical array.

        Args:
            verify: re-hash the decoded bytes and raise :class:`CorruptObjectError` when they do
                not match ``oid`` (xxh3 runs at >10 GB/s, so this is cheap).
        """
        return self._fresh(oid, lambda info: self._read_owned(info, verify=verify))

    def read_shared(self, oid: str) -> np.ndarray:
        """A read-only decoded array that may be shared with the cache (verified)."""
        cached = self.cache.get(oid)
        if cached is not None:
            return cached
        arr = self.read(oid, verify=True)
        arr.flags.writeable = False
        self.cache.put(oid, arr)
        return arr

    def read_many(self, oids: Sequence[str], *, verify: bool = True) -> Iterator[np.ndarray]:
        """Decode objects in order, a few at a time: while one decodes (itself on every core),
        the next ones are read and decoded too, which keeps the cores busy on small tensors
        and on delta chains."""
        for oid in oids:
            self.info(oid)  # fail before any work when one is missing
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="coral-read") as pool:
            pending: deque[Future[np.ndarray]] = deque()
            for oid in oids:
                pending.append(pool.submit(self.read, oid, verify=verify))
                if len(pending) > _READ_AHEAD:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _read_owned(self, info: ObjectInfo, *, verify: bool) -> np.ndarray:
        cached = self.cache.get(info.object_id)
        if cached is not None:
            owned: np.ndarray = cached.copy()
            return owned
        if not info.bases:
            return self._finish(info, *self._fetch(info), (), verify=verify)
        return self._read_chain(info, verify=verify)

    def _read_chain(
        self, target: ObjectInfo, *, verify: bool, use_cache: bool = True
    ) -> np.ndarray:
        """Decode a delta and everything it needs, bases first, keeping in memory only the
        arrays that are still to be used (a linear chain holds ~3 tensors, whatever its depth)."""
        order: list[ObjectInfo] = []
        users: Counter[str] = Counter({target.object_id: 1})
        arrays: dict[str, np.ndarray] = {}
        visiting: set[str] = set()
        done: set[str] = set()

        def visit(info: ObjectInfo) -> None:
            oid = info.object_id
            if oid in done:
                return
            if oid in visiting:
                raise CorruptObjectError(
                    f"object {target.object_id} has a cyclic delta chain through {oid}; "
                    "run repo.fsck()"
                )
            cached = self.cache.get(oid) if use_cache else None
            if cached is not None:
                arrays[oid] = cached  # taken now: the cache may evict it before we use it
            else:
                visiting.add(oid)
                for base in info.bases:
                    users[base] += 1
                    visit(self.info(base))
                visiting.discard(oid)
            done.add(oid)
            order.append(info)

        visit(target)
        for info in order:
            if info.object_id in arrays:
                continue  # from the cache
            bases = [arrays[b] for b in info.bases]
            is_target = info.object_id == target.object_id
            arrays[info.object_id] = self._finish(
                info, *self._fetch(info), bases, verify=verify or not is_target
            )
            for base in info.bases:
                users[base] -= 1
                if users[base] == 0:
                    del arrays[base]
        out = arrays[target.object_id]
        return out if out.flags.writeable else out.copy()

    def _fetch(self, info: ObjectInfo) -> tuple[np.ndarray, np.ndarray | None]:
        """Allocate the output and read the stored bytes (straight into it when raw)."""
        out = np.empty(info.shape, dtype=dtype_from_name(info.dtype))
        if info.codec == RAW.name and not info.bases:
            self._read_raw_into(info, byte_view(out))
            return out, None
        return out, self.read_payload(info)

    def _read_raw_into(self, info: ObjectInfo, out: np.ndarray) -> None:
        out[:] = self.read_payload(info)

    def _finish(
        self,
        info: ObjectInfo,
        out: np.ndarray,
        payload: np.ndarray | None,
        bases: Sequence[np.ndarray],
        *,
        verify: bool,
    ) -> np.ndarray:
        if payload is not None:
            get_codec(info.codec).decode(info.params, payload, byte_view(out), bases)
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
        return self._fresh(oid, lambda info: (info, self.read_payload(info)))

    def verify(self, oid: str) -> None:
        """Raise :class:`CorruptObjectError` if the object cannot be read back bit-exactly
        (through its whole delta chain, bypassing the cache)."""

        def check(info: ObjectInfo) -> None:
            if info.bases:
                self._read_chain(info, verify=True, use_cache=False)
            else:
                self._finish(info, *self._fetch(info), (), verify=True)

        try:
            self._fresh(oid, check)
        except (OSError, ValueError, KeyError) as err:
            if isinstance(err, CorruptObjectError):
                raise
            raise CorruptObjectError(f"object {oid} cannot be read: {err}") from err


def payload_as(info: ObjectInfo, payload: np.ndarray) -> Encoded:
    """A stored payload as the :class:`Encoded` a writer takes."""
    return Encoded(info.codec, info.params, [payload])
