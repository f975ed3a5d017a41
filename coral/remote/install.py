"""Installing objects received from a remote: nothing goes into the local store until it has
been decoded and re-hashed to exactly its ID (through its whole delta chain), and a batch is
published atomically or not at all.

Downloaded blobs wait in temp files. :class:`DownloadOverlay` presents them over the local store, so
a delta whose base arrived in the same batch verifies against it before either is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from coral.errors import ObjectNotFoundError, RemoteFormatError
from coral.history.walk import dependencies_first
from coral.remote import wire
from coral.storage.array_cache import ArrayCache
from coral.storage.objects import ObjectInfo
from coral.storage.store import ObjectWriter, TensorStore

_VERIFY_CACHE_BYTES = 512 << 20  # decoded bases kept while their deltas verify


@dataclass(frozen=True)
class Downloaded:
    """One object a pull fetched: its checked header and where its payload starts in the
    temp file it waits in."""

    info: ObjectInfo
    path: Path
    offset: int

    def payload(self) -> np.ndarray:
        return wire.read_payload(self.path, self.offset, self.info.stored_nbytes)


class DownloadOverlay(TensorStore):
    """A read-only store of a pull's downloaded objects over the local store: each object
    is looked up among the downloads first, so a delta whose base came in the same batch is
    verified before either is installed."""

    def __init__(self, local: TensorStore, downloaded: dict[str, Downloaded]) -> None:
        self.codec = local.codec
        self.cache = ArrayCache(_VERIFY_CACHE_BYTES)
        self._local = local
        self._downloaded = downloaded

    def info(self, oid: str) -> ObjectInfo:
        found = self._downloaded.get(oid)
        if found is not None:
            return replace(found.info, location="download")
        return self._local.info(oid)

    def read_payload(self, info: ObjectInfo) -> np.ndarray:
        found = self._downloaded.get(info.object_id)
        return found.payload() if found is not None else self._local.read_payload(info)

    def object_ids(self) -> Iterator[str]:
        yield from self._downloaded
        yield from self._local.object_ids()

    def writer(self) -> ObjectWriter:
        raise TypeError("the verification overlay is read-only")


def bases_first(downloaded: dict[str, Downloaded]) -> list[str]:
    """Downloaded object IDs ordered so every base comes before the deltas on it."""
    return dependencies_first(downloaded, lambda oid: downloaded[oid].info.bases)


def verify_and_install(local: TensorStore, downloaded: dict[str, Downloaded]) -> None:
    """Decode and re-hash every downloaded object; install them all only if all pass."""
    order = bases_first(downloaded)
    _recompute_depths(local, downloaded, order)
    overlay = DownloadOverlay(local, downloaded)
    for oid in order:  # bases first, so each delta finds its bases decoded in the cache
        _verify_one(overlay, oid)  # (decoding itself runs on every core)
    with local.writer() as writer:
        for oid in order:
            item = downloaded[oid]
            writer.add_encoded(replace(item.info, location="", offset=-1), item.payload())


def _recompute_depths(
    local: TensorStore, downloaded: dict[str, Downloaded], order: list[str]
) -> None:
    """A delta's depth as it really is here (1 + its deepest base), not as the sender said:
    the local encoder bounds chains by it, and reads recurse along it."""
    for oid in order:
        item = downloaded[oid]
        depth = 0
        for base in item.info.bases:
            below = downloaded[base].info.depth if base in downloaded else _local_depth(local, base)
            depth = max(depth, below + 1)
        if depth > wire.MAX_DEPTH:
            raise RemoteFormatError(
                f"remote object {oid} sits {depth} deltas deep (at most {wire.MAX_DEPTH}); "
                "nothing was installed"
            )
        downloaded[oid] = replace(item, info=replace(item.info, depth=depth))


def _local_depth(local: TensorStore, oid: str) -> int:
    try:
        return local.info(oid).depth
    except ObjectNotFoundError:
        return 0  # missing on both sides: verification names it


def _verify_one(overlay: DownloadOverlay, oid: str) -> None:
    try:
        overlay.cache.put(oid, _read_verified(overlay, oid))
    except ObjectNotFoundError as err:
        raise RemoteFormatError(
            f"remote object {oid} is a delta on an object neither side has ({err}); "
            "nothing was installed"
        ) from None
    except Exception as err:  # whatever foreign bytes make a decoder raise (ZstdError...)
        raise RemoteFormatError(
            f"remote object {oid} does not decode to its ID ({err}); it was altered or "
            "damaged on the remote; nothing was installed"
        ) from None


def _read_verified(overlay: DownloadOverlay, oid: str) -> np.ndarray:
    array = overlay.read(oid, verify=True)
    array.flags.writeable = False
    return array
