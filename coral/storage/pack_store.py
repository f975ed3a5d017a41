"""Tensor objects on disk, in immutable HDF5 packs.

Layout under ``objects/packs/``::

    pack-<id>.h5         one HDF5 file; dataset /objects/<object id> holds an object's payload
                         (uint8), its attributes hold dtype, shape, codec, params, sizes, base
    pack-<id>.idx.json   the same attributes for every object in the pack (derived data)

A writer builds its pack under ``tmp/``, fsyncs it, renames it into ``packs/`` and only then
writes the sidecar index. HDF5 files are never opened for writing after that rename: HDF5 does
not survive a writer killed mid-write, and its file locking breaks concurrent writers, so
immutability is what makes the store crash-safe. A pack without its sidecar (a crash between
the two steps) is re-indexed from its attributes when the store loads.

Packs disappear only through gc, which first publishes a new pack holding every object of
theirs still needed. So a pack missing at read time means "look again": the store forgets
vanished packs, indexes new ones and retries the read once.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import replace
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from coral.core.dtypes import as_buffer
from coral.errors import CorruptObjectError, ObjectNotFoundError, WriteFailedError
from coral.storage import forksafe
from coral.storage.array_cache import ArrayCache
from coral.storage.codecs import SHUFFLE_ZSTD, Buffer, Codec, Encoded
from coral.storage.descriptors import DescriptorCache
from coral.storage.fsutil import atomic_write_json, fsync_dir, read_json
from coral.storage.gc_lock import GcLock
from coral.storage.objects import DeltaPolicy, ObjectInfo
from coral.storage.pack_reader import read_pack_indexes
from coral.storage.store import ObjectWriter, PackGoneError, TensorStore
from coral.storage.validation import checked_info

PACK_FORMAT = 1
_PACK_SUFFIX = ".h5"
_INDEX_SUFFIX = ".idx.json"
_GROUP = "objects"
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024)
_SYNC_EVERY_BYTES = 64 << 20
_REFRESH_ATTEMPTS = 5


def _index_path(pack_path: Path) -> Path:
    return pack_path.with_name(pack_path.stem + _INDEX_SUFFIX)


class PackStore(TensorStore):
    """A :class:`TensorStore` of immutable HDF5 packs in ``packs_dir``.

    Args:
        packs_dir: where published packs live.
        tmp_dir: where packs are built (same filesystem, so the publishing rename is atomic).
        codec: the codec new full objects are written with.
        max_open_packs: read descriptors kept open (LRU).
        delta_policy: how writes that name candidate bases are delta-encoded.
        cache_bytes: budget of the decoded-array cache (0 disables it).
        gc_lock: shared by writers, exclusive for gc (default: ``gc.lock`` beside
            ``packs_dir``).
    """

    def __init__(
        self,
        packs_dir: Path,
        tmp_dir: Path,
        codec: Codec = SHUFFLE_ZSTD,
        max_open_packs: int = 32,
        delta_policy: DeltaPolicy | None = None,
        cache_bytes: int = 0,
        gc_lock: GcLock | None = None,
    ) -> None:
        self.packs_dir = packs_dir
        self.gc_lock = gc_lock or GcLock(packs_dir.parent / "gc.lock")
        self.tmp_dir = tmp_dir
        self.codec = codec
        self.delta_policy = delta_policy
        self.cache = ArrayCache(cache_bytes)
        self._index: dict[str, ObjectInfo] = {}
        self._loaded: dict[str, list[ObjectInfo]] = {}  # pack name -> its objects
        self._unreadable: dict[str, str] = {}
        self._fds = DescriptorCache(max_open_packs)
        self._lock = threading.RLock()
        # Descriptors are closed when the store is garbage collected, not only on close().
        self._finalizer = weakref.finalize(self, self._fds.close_all)
        forksafe.register(self)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.RLock()

    # --- index ---

    def refresh(self) -> None:
        """Index packs published since the last look (by this or another process), and
        forget the ones gc has removed."""
        with self._lock:
            # gc publishes the pack it copies objects into before it deletes the old ones, so
            # a pack that vanished while we were indexing means the listing missed its
            # replacement: look again.
            for _ in range(_REFRESH_ATTEMPTS):
                if not self._refresh_once():
                    break

    def _refresh_once(self) -> bool:
        """One listing and indexing pass; True if a listed pack vanished meanwhile."""
        try:
            names = sorted(
                p.name for p in os.scandir(self.packs_dir) if p.name.endswith(_PACK_SUFFIX)
            )
        except FileNotFoundError:
            names = []
        self._forget(self._loaded.keys() - set(names))
        for name in self._unreadable.keys() - set(names):
            del self._unreadable[name]
        new = [n for n in names if n not in self._loaded and n not in self._unreadable]
        self._load_pack_indexes(new)
        vanished = [n for n in new if not (self.packs_dir / n).exists()]
        self._forget(n for n in vanished if n in self._loaded)
        for name in vanished:
            self._unreadable.pop(name, None)
        return bool(vanished)

    def _forget(self, gone: Iterable[str]) -> None:
        gone = set(gone)
        if not gone:
            return
        for name in gone:
            del self._loaded[name]
            self._fds.forget(name)
        # Other packs may hold copies of the forgotten objects: rebuild from what is left.
        self._index = {}
        for infos in self._loaded.values():
            for info in infos:
                self._remember(info)

    def _load_pack_indexes(self, names: list[str]) -> None:
        lost: list[Path] = []
        for name in names:
            try:
                self._add_pack(name, self._read_sidecar(self.packs_dir / name))
            except (OSError, ValueError, KeyError, TypeError):
                lost.append(self.packs_dir / name)
        if not lost:
            return
        for pack_path, rebuilt in read_pack_indexes(lost).items():  # one HDF5 reader for all
            if isinstance(rebuilt, str):
                self._unreadable[pack_path.name] = rebuilt
                continue
            # Derived data: a lost sidecar is rewritten when we can (not on a read-only copy).
            with contextlib.suppress(OSError):
                atomic_write_json(_index_path(pack_path), _sidecar(rebuilt), tmp_dir=self.tmp_dir)
            self._add_pack(pack_path.name, rebuilt)

    def _add_pack(self, name: str, entries: list[ObjectInfo]) -> None:
        for info in entries:
            self._remember(info)
        self._loaded[name] = entries

    @staticmethod
    def _read_sidecar(pack_path: Path) -> list[ObjectInfo]:
        data = read_json(_index_path(pack_path))
        if not isinstance(data, dict) or data.get("format") != PACK_FORMAT:
            raise ValueError("it is not a Coral pack index of a known format")
        entries = data["objects"]
        if not isinstance(entries, dict):
            raise ValueError("its objects are not a JSON object")
        return [_checked(oid, d, pack_path.name) for oid, d in entries.items()]

    def info(self, oid: str) -> ObjectInfo:
        info = self._index.get(oid)
        if info is None:
            self.refresh()
            info = self._index.get(oid)
            if info is None:
                raise ObjectNotFoundError(
                    f"object {oid} is not in {self.packs_dir}; the repository may be "
                    "incomplete (run repo.fsck())"
                )
        return info

    def _remember(self, info: ObjectInfo) -> None:
        # An object may be stored more than once (two writers, or a repack that rewrote a
        # deep delta in full): reads use the copy with the shortest chain.
        known = self._index.get(info.object_id)
        if known is None or info.depth < known.depth:
            self._index[info.object_id] = info

    def _indexed(self, oid: str) -> bool:
        return oid in self._index

    def object_ids(self) -> Iterator[str]:
        self.refresh()
        return iter(list(self._index))

    def pack_names(self) -> list[str]:
        self.refresh()
        return sorted(self._loaded)

    def guard_writes(self) -> AbstractContextManager[None]:
        return self.gc_lock.writing()

    def pack_objects(self, name: str) -> list[ObjectInfo]:
        """Every object copy stored in one pack (some may be superseded by better copies)."""
        return list(self._loaded.get(name, []))

    def pack_path(self, name: str) -> Path:
        return self.packs_dir / name

    def remove_packs(self, names: Iterable[str]) -> None:
        """Delete packs and their indexes (gc only, holding the gc lock exclusively, after
        publishing a pack with every object of theirs still needed)."""
        names = list(names)
        for name in names:
            pack = self.packs_dir / name
            pack.unlink(missing_ok=True)
            _index_path(pack).unlink(missing_ok=True)
        if names:
            fsync_dir(self.packs_dir)
        with self._lock:
            self._forget(n for n in names if n in self._loaded)
            for name in names:
                self._unreadable.pop(name, None)

    def unreadable_packs(self) -> dict[str, str]:
        """Packs that could not be indexed, with the reason (reported by fsck)."""
        self.refresh()
        return dict(self._unreadable)

    def check_pack(self, name: str) -> list[str]:
        """Problems with one pack's file and sidecar (their objects are checked separately)."""
        return self.check_packs([name])[name]

    def check_packs(self, names: Iterable[str]) -> dict[str, list[str]]:
        """:meth:`check_pack` for many packs, with one HDF5 reader process for them all."""
        names = list(names)
        rebuilt = read_pack_indexes([self.packs_dir / name for name in names])
        problems: dict[str, list[str]] = {}
        for name in names:
            from_pack = rebuilt[self.packs_dir / name]
            problems[name] = self._compare(name, from_pack)
        return problems

    def _compare(self, name: str, from_pack: list[ObjectInfo] | str) -> list[str]:
        if isinstance(from_pack, str):
            return [f"pack {name} cannot be read: {from_pack}"]
        try:
            from_sidecar = {i.object_id: i for i in self._read_sidecar(self.packs_dir / name)}
        except (OSError, ValueError, KeyError, TypeError) as err:
            return [f"index of pack {name} cannot be read ({err}); it will be rebuilt"]
        if {i.object_id: i for i in from_pack} != from_sidecar:
            return [f"index of pack {name} disagrees with the pack; delete it to rebuild"]
        return []

    # --- reads ---

    def _open_pack(self, location: str) -> int:
        try:
            return os.open(self.packs_dir / location, os.O_RDONLY)
        except FileNotFoundError:
            raise PackGoneError(
                f"pack {location} is gone (removed by gc); run repo.fsck()"
            ) from None
        except OSError as err:
            raise CorruptObjectError(
                f"pack {location} cannot be opened ({err}); run repo.fsck()"
            ) from err

    def read_payload(self, info: ObjectInfo) -> np.ndarray:
        out = np.empty(info.stored_nbytes, dtype=np.uint8)
        self._read_into(info, out)
        return out

    def _read_into(self, info: ObjectInfo, out: np.ndarray) -> None:
        # The payload is a contiguous HDF5 dataset at a recorded offset: one pread, GIL released.
        if out.size == 0:
            return
        if info.offset < 0:
            raise CorruptObjectError(
                f"the index of pack {info.location} has no offset for object {info.object_id}; "
                "delete the pack's .idx.json to rebuild it"
            )
        view = as_buffer(out)
        done = 0
        # Packs never change once published, so a cached descriptor stays valid.
        with self._fds.lease(info.location, lambda: self._open_pack(info.location)) as fd:
            while done < out.size:
                n = os.preadv(fd, [view[done:]], info.offset + done)
                if n == 0:
                    raise CorruptObjectError(
                        f"pack {info.location} ends inside object {info.object_id} "
                        "(truncated?); run repo.fsck()"
                    )
                done += n

    def _read_raw_into(self, info: ObjectInfo, out: np.ndarray) -> None:
        self._read_into(info, out)  # no intermediate buffer for raw objects

    def close(self) -> None:
        self._fds.close_all()

    # --- writes ---

    def writer(self) -> ObjectWriter:
        return _PackWriter(self)

    def _published(self, pack_name: str, infos: list[ObjectInfo]) -> None:
        with self._lock:
            for info in infos:
                self._remember(info)
            self._loaded[pack_name] = infos


class _PackWriter(ObjectWriter):
    """Builds one pack in ``tmp/``.

    HDF5 lays out each payload as an early-allocated contiguous dataset; the payload bytes are
    then written with ``os.pwritev`` at the dataset's file offset. That is HDF5's documented
    route for external access to contiguous data, and it matters here: h5py holds the GIL
    during its own writes, which would stall the threads encoding the next tensor, while
    ``pwritev`` releases it and writes all of a tensor's segments in a few syscalls.
    """

    def __init__(self, store: PackStore) -> None:
        super().__init__(store)
        self._store = store
        self._name = f"pack-{uuid.uuid4().hex}{_PACK_SUFFIX}"
        self._tmp_path = store.tmp_dir / f"{self._name}.tmp"
        self._file: h5py.File | None = None
        self._fd = -1
        self._unsynced = 0
        self._pending: dict[str, ObjectInfo] = {}
        self._guard = ExitStack()

    def __enter__(self) -> _PackWriter:
        # Shared with other writers, exclusive of gc: no object we dedup against or build
        # a delta on can be deleted while we hold it. The index is refreshed under it, so it
        # lists no pack that gc removed.
        self._guard.enter_context(self._store.gc_lock.writing())
        try:
            self._store.refresh()
        except BaseException:
            self._guard.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._guard:
            super().__exit__(exc_type, exc, tb)

    def _exists(self, oid: str) -> bool:
        # The index was refreshed when the writer started; a miss here is not worth a
        # directory scan (at worst another process's object is stored twice).
        return oid in self._pending or self._store._indexed(oid)

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """One clear error for whatever a failed write raises (HDF5 turns a full disk or a
        file-size limit into a RuntimeError); the writer's exit then removes the temp pack."""
        try:
            yield
        except (OSError, RuntimeError) as err:
            if isinstance(err, WriteFailedError):
                raise
            raise WriteFailedError(
                f"could not write a pack in {self._store.tmp_dir} ({err}); nothing was stored: "
                "free disk space (or raise the file-size limit) and retry"
            ) from err

    def _open(self) -> h5py.File:
        if self._file is None:
            self._store.tmp_dir.mkdir(parents=True, exist_ok=True)
            self._file = h5py.File(self._tmp_path, "w", libver="latest", locking=False)
            self._file.attrs["coral_pack_format"] = PACK_FORMAT
            self._file.create_group(_GROUP)
            self._fd = os.open(self._tmp_path, os.O_WRONLY)
        return self._file

    def _write(self, info: ObjectInfo, encoded: Encoded) -> None:
        with self._writing():
            self._write_dataset(info, encoded)

    def _write_dataset(self, info: ObjectInfo, encoded: Encoded) -> None:
        group = self._open()[_GROUP]
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.CONTIGUOUS)
        dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
        dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
        ds = group.create_dataset(
            info.object_id, shape=(encoded.nbytes,), dtype=np.uint8, dcpl=dcpl
        )
        offset = ds.id.get_offset() if encoded.nbytes else None
        if offset is not None:
            _pwrite_all(self._fd, encoded.segments, offset)
            self._unsynced += encoded.nbytes
            if self._unsynced >= _SYNC_EVERY_BYTES:
                # Flush as we go (this thread overlaps the encoding of the next tensor), so
                # the fsync that publishes the pack does not wait for the whole pack at once.
                os.fdatasync(self._fd)
                self._unsynced = 0
        attrs = ds.attrs
        attrs["dtype"] = info.dtype
        attrs["shape"] = np.asarray(info.shape, dtype=np.int64)
        attrs["codec"] = info.codec
        attrs["params"] = json.dumps(info.params, sort_keys=True)
        attrs["raw_nbytes"] = info.raw_nbytes
        attrs["stored_nbytes"] = encoded.nbytes
        attrs["bases"] = json.dumps(list(info.bases))
        attrs["depth"] = info.depth
        self._pending[info.object_id] = replace(
            info,
            stored_nbytes=encoded.nbytes,
            location=self._name,
            offset=-1 if offset is None else int(offset),
        )

    def _close_file(self) -> None:
        file, self._file = self._file, None
        fd, self._fd = self._fd, -1
        try:
            if file is not None:
                file.close()  # HDF5 writes its metadata
        finally:
            if fd >= 0:
                os.close(fd)

    def _publish(self) -> None:
        if self._file is None:
            return
        try:
            with self._writing():
                file, self._file = self._file, None
                file.close()  # HDF5 writes its metadata
                os.fsync(self._fd)
                self._close_file()
        except BaseException:
            self._abort()  # e.g. a full disk: leave no temp pack and no open descriptor
            raise
        final = self._store.packs_dir / self._name
        self._store.packs_dir.mkdir(parents=True, exist_ok=True)
        os.replace(self._tmp_path, final)
        fsync_dir(self._store.packs_dir)
        infos = list(self._pending.values())
        # The pack is published; its index is derived data, rebuilt from the pack if this
        # write fails (a full disk now is reported, but the objects are safely stored).
        atomic_write_json(_index_path(final), _sidecar(infos), tmp_dir=self._store.tmp_dir)
        self._store._published(self._name, infos)

    def _abort(self) -> None:
        try:
            # The pack is thrown away; closing it may fail the way its writes did.
            with contextlib.suppress(OSError, RuntimeError):
                self._close_file()
        finally:
            self._tmp_path.unlink(missing_ok=True)
            self._pending.clear()


def _pwrite_all(fd: int, segments: Sequence[Buffer], offset: int) -> None:
    """Write ``segments`` back to back at ``offset``, resuming after short writes."""
    views = [as_buffer(s) if isinstance(s, np.ndarray) else memoryview(s) for s in segments]
    views = [v for v in views if v.nbytes]
    while views:
        batch = views[:_IOV_MAX]
        written = os.pwritev(fd, batch, offset)
        offset += written
        done = 0
        while done < len(batch) and written >= batch[done].nbytes:
            written -= batch[done].nbytes
            done += 1
        views = views[done:]
        if written:
            views[0] = views[0][written:]


def _sidecar(infos: list[ObjectInfo]) -> dict[str, object]:
    return {"format": PACK_FORMAT, "objects": {i.object_id: i.to_dict() for i in infos}}


def _checked(oid: str, data: object, location: str) -> ObjectInfo:
    try:
        return checked_info(oid, data, location)
    except ValueError as err:
        raise ValueError(f"object {oid[:80]}: {err}") from None
