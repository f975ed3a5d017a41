"""``TensorStoreTests``: the contract every :class:`~coral.storage.store.TensorStore` keeps.

Subclass it once per implementation and give it :meth:`TensorStoreTests.make_store`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from coral.core.dtypes import dtype_name
from coral.core.object_id import object_id
from coral.errors import CorruptObjectError, ObjectNotFoundError
from coral.storage import MemoryStore, TensorStore, WriteRequest
from coral.testing.arrays import arrays, assert_bit_exact

__all__ = ["TensorStoreTests"]


def _sample_arrays() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        (rng.standard_normal((64, 33)) * 0.02).astype(np.float32),
        (rng.standard_normal(1000)).astype(ml_dtypes.bfloat16),
        np.array(-0.0, np.float64),
        np.zeros((0, 4), np.float16),
        rng.integers(-5, 5, size=(3, 3, 3)).astype(np.int64),
        rng.random(17) > 0.5,
    ]


class TensorStoreTests:
    """Round trips of every dtype, atomic publication, dedup, encoded transfer, verification."""

    def make_store(self, tmp_path: Path) -> TensorStore:
        """A new, empty store of the implementation under test."""
        raise NotImplementedError

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[TensorStore]:
        store = self.make_store(tmp_path)
        yield store
        store.close()

    def test_written_objects_read_back_bit_exact(self, store: TensorStore) -> None:
        arrays_in = _sample_arrays()
        with store.writer() as writer:
            oids = [writer.add(a) for a in arrays_in]
        for arr, oid in zip(arrays_in, oids, strict=True):
            assert oid == object_id(arr, dtype_name(arr.dtype))
            assert_bit_exact(store.read(oid), arr)
            info = store.info(oid)
            assert (info.dtype, info.shape, info.raw_nbytes) == (
                dtype_name(arr.dtype),
                arr.shape,
                arr.nbytes,
            )

    @given(arr=arrays())
    @settings(
        max_examples=60,
        deadline=None,
        # One method runs on each subclass's instance (its executor); the store comes from
        # the fixture, so the examples do not depend on which.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    def test_any_array_round_trips(self, store: TensorStore, arr: np.ndarray) -> None:
        with store.writer() as writer:
            oid = writer.add(arr)
        assert_bit_exact(store.read(oid), arr)

    def test_objects_appear_only_when_the_writer_block_ends(self, store: TensorStore) -> None:
        arr = np.arange(10, dtype=np.float32)
        with store.writer() as writer:
            oid = writer.add(arr)
            assert oid not in store
        assert oid in store
        assert oid in set(store.object_ids())

    def test_a_failed_writer_block_publishes_nothing(self, store: TensorStore) -> None:
        arr = np.arange(10, dtype=np.float32)
        with pytest.raises(RuntimeError), store.writer() as writer:
            oid = writer.add(arr)
            raise RuntimeError("interrupted")
        assert oid not in store
        assert list(store.object_ids()) == []

    def test_writing_an_existing_object_is_a_no_op(self, store: TensorStore) -> None:
        arr = np.ones((5, 5), np.float32)
        with store.writer() as writer:
            first = writer.add(arr)
        with store.writer() as writer:
            second = writer.add(arr.copy())
            assert writer.written == []
        assert first == second
        assert list(store.object_ids()) == [first]

    def test_duplicates_within_one_batch_are_written_once(self, store: TensorStore) -> None:
        arr = np.ones(100, np.int32)
        with store.writer() as writer:
            oids = writer.add_many([WriteRequest(arr), WriteRequest(arr.copy())])
            assert len(writer.written) == 1
        assert oids[0] == oids[1]

    def test_unknown_object_raises_object_not_found(self, store: TensorStore) -> None:
        with pytest.raises(ObjectNotFoundError):
            store.read("0" * 32)
        assert "0" * 32 not in store

    def test_encoded_transfer_between_stores_is_bit_exact(self, store: TensorStore) -> None:
        source = MemoryStore()
        arrays_in = _sample_arrays()
        with source.writer() as writer:
            oids = [writer.add(a) for a in arrays_in]
        with store.writer() as writer:
            for oid in oids:
                info, payload = source.read_encoded(oid)
                writer.add_encoded(info, payload)
        for arr, oid in zip(arrays_in, oids, strict=True):
            assert_bit_exact(store.read(oid), arr)
            assert store.info(oid).codec == source.info(oid).codec

    def test_a_damaged_payload_fails_verification(self, store: TensorStore) -> None:
        arr = (np.random.default_rng(5).standard_normal(4096) * 0.02).astype(np.float32)
        source = MemoryStore()
        with source.writer() as writer:
            oid = writer.add(arr)
        info, payload = source.read_encoded(oid)
        damaged = payload.copy()
        damaged[len(damaged) // 2] ^= 0x10
        with store.writer() as writer:
            writer.add_encoded(info, damaged)
        with pytest.raises(CorruptObjectError, match=oid):
            store.read(oid)
        with pytest.raises(CorruptObjectError):
            store.verify(oid)
        try:
            unverified = store.read(oid, verify=False)
        except CorruptObjectError:
            return  # the codec itself noticed
        assert unverified.tobytes() != arr.tobytes()  # so only verification can catch it
