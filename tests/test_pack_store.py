"""PackStore specifics: immutable packs, rebuildable index, damage stays local."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from coral.errors import CorruptObjectError
from coral.storage import PackStore
from tests.helpers import assert_bit_exact


def _store(tmp_path: Path) -> PackStore:
    return PackStore(tmp_path / "packs", tmp_path / "tmp")


def _packs(tmp_path: Path, suffix: str = ".h5") -> list[Path]:
    return sorted(p for p in (tmp_path / "packs").iterdir() if p.name.endswith(suffix))


def test_each_writer_publishes_one_pack_and_one_index(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.writer() as writer:
        writer.add(np.ones(3, np.float32))
        writer.add(np.zeros(3, np.float32))
    assert len(_packs(tmp_path)) == 1 and len(_packs(tmp_path, ".idx.json")) == 1
    assert os.listdir(tmp_path / "tmp") == []


def test_a_writer_with_nothing_new_writes_no_pack(tmp_path: Path) -> None:
    store = _store(tmp_path)
    with store.writer() as writer:
        writer.add(np.ones(3, np.float32))
    with store.writer() as writer:
        writer.add(np.ones(3, np.float32))
    assert len(_packs(tmp_path)) == 1


def test_a_lost_index_is_rebuilt_from_the_pack(tmp_path: Path) -> None:
    arr = np.arange(100, dtype=np.int16)
    with _store(tmp_path).writer() as writer:
        oid = writer.add(arr)
    index = _packs(tmp_path, ".idx.json")[0]
    index.unlink()
    fresh = _store(tmp_path)
    assert_bit_exact(fresh.read(oid), arr)
    assert index.exists()  # derived data is rewritten
    assert fresh.check_pack(_packs(tmp_path)[0].name) == []


def test_another_store_instance_sees_new_packs_without_reopening(tmp_path: Path) -> None:
    reader, writer_store = _store(tmp_path), _store(tmp_path)
    assert list(reader.object_ids()) == []
    with writer_store.writer() as writer:
        oid = writer.add(np.ones(7, np.float64))
    assert oid in reader
    assert_bit_exact(reader.read(oid), np.ones(7, np.float64))


def test_packs_are_hdf5_files_with_the_dtype_name_as_an_attribute(tmp_path: Path) -> None:
    import ml_dtypes

    arr = np.ones(4, ml_dtypes.bfloat16)
    with _store(tmp_path).writer() as writer:
        oid = writer.add(arr)
    with h5py.File(_packs(tmp_path)[0], "r") as f:
        ds = f["objects"][oid]
        assert ds.attrs["dtype"] == "bfloat16"
        assert ds.dtype == np.uint8  # opaque payload; the dtype is never inferred from HDF5


def test_a_truncated_pack_damages_only_its_own_objects(tmp_path: Path) -> None:
    store = _store(tmp_path)
    good = np.arange(50, dtype=np.float32)
    bad = np.arange(5000, dtype=np.float64)
    with store.writer() as writer:
        good_oid = writer.add(good)
    with store.writer() as writer:
        bad_oid = writer.add(bad)
    bad_pack = next(
        p for p in _packs(tmp_path) if bad_oid in p.with_name(p.stem + ".idx.json").read_text()
    )
    bad_pack.write_bytes(bad_pack.read_bytes()[:200])
    fresh = _store(tmp_path)
    assert_bit_exact(fresh.read(good_oid), good)
    with pytest.raises(CorruptObjectError, match=bad_oid):
        fresh.read(bad_oid)
    assert fresh.check_pack(bad_pack.name)  # fsck names the pack


def test_a_garbage_file_without_index_is_reported_unreadable(tmp_path: Path) -> None:
    store = _store(tmp_path)
    (tmp_path / "packs").mkdir(parents=True)
    (tmp_path / "packs" / "pack-garbage.h5").write_bytes(b"not hdf5 at all")
    assert list(store.object_ids()) == []
    assert "pack-garbage.h5" in store.unreadable_packs()


def test_a_descriptor_in_use_is_closed_only_after_its_read(tmp_path: Path) -> None:
    """Evicting (or forgetting, after gc) a descriptor another thread is reading through must
    not close it: the number could be reused for another pack mid-read."""
    from coral.storage.descriptors import DescriptorCache

    files = {}
    for name in ("a", "b"):
        (tmp_path / name).write_bytes(name.encode() * 8)
        files[name] = tmp_path / name
    cache = DescriptorCache(max_open=1)
    with cache.lease("a", lambda: os.open(files["a"], os.O_RDONLY)) as fd_a:
        with cache.lease("b", lambda: os.open(files["b"], os.O_RDONLY)):
            pass  # "a" is evicted from the cache here, but it is still being read
        assert os.pread(fd_a, 8, 0) == b"aaaaaaaa"
        cache.forget("b")
    with pytest.raises(OSError):
        os.fstat(fd_a)  # closed once its read ended
    cache.close_all()


def test_a_listing_that_raced_gc_is_taken_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gc publishes the pack it copies into, then deletes the old one. A reader that listed
    the folder before the new pack appeared and indexed after the old one went must look
    again, not report the object missing."""
    import coral.storage.pack_store as pack_store_module

    arr = np.arange(64, dtype=np.float32)
    with _store(tmp_path).writer() as writer:
        oid = writer.add(arr)
    (old,) = _packs(tmp_path)
    gc_side = _store(tmp_path)
    with gc_side.writer() as writer:  # what gc does: copy, publish, then delete the old pack
        writer.copy(gc_side.info(oid), gc_side.read_payload(gc_side.info(oid)))
    gc_side.remove_packs([old.name])

    real_scandir = os.scandir
    stale = [True]

    def scandir(path: Path) -> object:
        entries = list(real_scandir(path))
        if stale[0]:  # the first listing is from before gc: the old pack only
            stale[0] = False
            (tmp_path / "stale").mkdir(exist_ok=True)
            (tmp_path / "stale" / old.name).touch()
            return list(real_scandir(tmp_path / "stale"))
        return entries

    monkeypatch.setattr(pack_store_module.os, "scandir", scandir)
    reader = _store(tmp_path)
    assert_bit_exact(reader.read(oid), arr)
    assert reader.unreadable_packs() == {}
