"""Every TensorStore implementation runs one conformance suite (the zarr pattern):
:class:`coral.testing.stores.TensorStoreTests`, subclassed here once per implementation,
including the read-only overlay a pull verifies its downloads through."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from coral.remote import wire
from coral.remote.install import Downloaded, DownloadOverlay
from coral.storage import MemoryStore, PackStore, TensorStore
from coral.storage.array_cache import ArrayCache
from coral.storage.objects import ObjectInfo
from coral.storage.store import ObjectWriter
from coral.testing.stores import TensorStoreTests


class TestMemoryStore(TensorStoreTests):
    def make_store(self, tmp_path: Path) -> TensorStore:
        return MemoryStore()


class TestPackStore(TensorStoreTests):
    def make_store(self, tmp_path: Path) -> TensorStore:
        return PackStore(tmp_path / "packs", tmp_path / "tmp")


class ArrivingAsDownloads(TensorStore):
    """The suite's view of a :class:`DownloadOverlay`: what the suite writes goes to a
    sending store, and every object it publishes arrives as a pull would receive it (a wire
    blob in a temp file, its header checked) to be read through the overlay, over a local
    store that holds nothing."""

    def __init__(self, scratch: Path) -> None:
        self._sender = MemoryStore()
        self._downloaded: dict[str, Downloaded] = {}
        self._overlay = DownloadOverlay(MemoryStore(), self._downloaded)
        self._scratch = scratch
        self.codec = self._sender.codec
        self.cache = ArrayCache(0)

    def _receive(self) -> None:
        for oid in self._sender.object_ids():
            if oid not in self._downloaded:
                info, payload = self._sender.read_encoded(oid)
                path = self._scratch / uuid.uuid4().hex
                path.write_bytes(wire.header_bytes(info) + np.ascontiguousarray(payload).tobytes())
                received, offset = wire.read_header(path, oid)
                self._downloaded[oid] = Downloaded(received, path, offset)

    def info(self, oid: str) -> ObjectInfo:
        self._receive()
        return self._overlay.info(oid)

    def read_payload(self, info: ObjectInfo) -> np.ndarray:
        return self._overlay.read_payload(info)

    def object_ids(self) -> Iterator[str]:
        self._receive()
        return self._overlay.object_ids()

    def writer(self) -> ObjectWriter:
        return self._sender.writer()


class TestDownloadOverlay(TensorStoreTests):
    def make_store(self, tmp_path: Path) -> TensorStore:
        scratch = tmp_path / "downloads"
        scratch.mkdir(exist_ok=True)  # hypothesis reuses tmp_path across examples
        return ArrivingAsDownloads(scratch)

    def test_objects_are_read_from_the_downloads(self, store: TensorStore) -> None:
        with store.writer() as writer:
            oid = writer.add(np.arange(10, dtype=np.float32))
        assert store.info(oid).location == "download"


def test_the_overlay_itself_refuses_writes() -> None:
    with pytest.raises(TypeError, match="read-only"):
        DownloadOverlay(MemoryStore(), {}).writer()
