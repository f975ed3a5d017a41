"""WeightTensor and WeightMetadata: private copies, canonical layout, validation."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings

from coral.core.dtypes import canonical_array, dtype_from_name, dtype_name
from coral.core.object_id import object_id
from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.errors import InvalidWeightError, WeightTypeError
from tests.helpers import assert_bit_exact
from tests.strategies import arrays, strided_views


def test_weight_tensor_reports_shape_dtype_nbytes_and_metadata() -> None:
    meta = WeightMetadata("fc.weight", (2, 3), np.float32, layer_type="Linear", model_name="m")
    w = WeightTensor(np.ones((2, 3), np.float32), meta)
    assert (w.shape, w.dtype, w.nbytes, w.size, w.ndim) == ((2, 3), np.dtype(np.float32), 24, 6, 2)
    assert (w.name, w.metadata.layer_type, w.metadata.model_name) == ("fc.weight", "Linear", "m")


def test_weight_tensor_keeps_a_private_copy_of_a_live_array() -> None:
    live = np.zeros(4, np.float32)
    w = WeightTensor(live)
    live += 1.0  # what an optimizer step does to param.detach().numpy()
    assert_bit_exact(w.data, np.zeros(4, np.float32))


def test_weight_tensor_data_is_read_only_and_to_numpy_is_writable() -> None:
    w = WeightTensor(np.arange(3, dtype=np.int64))
    with pytest.raises(ValueError):
        w.data[0] = 5
    copy = w.to_numpy()
    copy[0] = 5
    assert w.data[0] == 0


@given(strided_views())
@settings(max_examples=150, deadline=None)
def test_any_layout_is_stored_canonically_with_the_same_values(view: np.ndarray) -> None:
    w = WeightTensor(view)
    assert w.data.flags.c_contiguous
    assert w.data.dtype.byteorder in "=|"
    expected = view.astype(view.dtype.newbyteorder("=")) if view.dtype.byteorder == ">" else view
    assert_bit_exact(w.data, expected)


@given(arrays())
@settings(max_examples=150, deadline=None)
def test_content_hash_depends_on_bytes_only_not_layout(arr: np.ndarray) -> None:
    a = WeightTensor(arr)
    b = WeightTensor(np.asarray(arr, order="F"))
    assert (
        a.content_hash
        == b.content_hash
        == object_id(canonical_array(arr, copy=False), dtype_name(arr.dtype))
    )


def test_same_bytes_with_another_dtype_or_shape_get_another_hash() -> None:
    base = np.arange(8, dtype=np.int32)
    ids = {
        WeightTensor(base).content_hash,
        WeightTensor(base.view(np.float32)).content_hash,
        WeightTensor(base.reshape(2, 4)).content_hash,
        WeightTensor(base.view(np.uint32)).content_hash,
    }
    assert len(ids) == 4


def test_negative_zero_and_positive_zero_are_different_objects() -> None:
    assert (
        WeightTensor(np.array([0.0], np.float32)).content_hash
        != WeightTensor(np.array([-0.0], np.float32)).content_hash
    )


def test_bool_arrays_with_nonstandard_true_bytes_are_normalised() -> None:
    odd = np.frombuffer(b"\x00\x02\x01", dtype=np.bool_)
    w = WeightTensor(odd)
    assert w.data.view(np.uint8).tolist() == [0, 1, 1]
    assert w.content_hash == WeightTensor(np.array([False, True, True])).content_hash


@pytest.mark.parametrize("name", ["bfloat16", "float16", "float64", "int8", "uint64", "bool"])
def test_zero_dim_and_empty_tensors_are_supported(name: str) -> None:
    dtype = dtype_from_name(name)
    scalar = WeightTensor(np.zeros((), dtype))
    empty = WeightTensor(np.zeros((0, 5), dtype))
    assert scalar.shape == () and scalar.nbytes == dtype.itemsize
    assert empty.shape == (0, 5) and empty.nbytes == 0
    assert scalar.content_hash != empty.content_hash


@pytest.mark.parametrize(
    ("data", "meta", "error", "fragment"),
    [
        (
            np.zeros((2, 3), np.float32),
            WeightMetadata("w", (3, 2), np.float32),
            InvalidWeightError,
            "shape",
        ),
        (
            np.zeros(3, np.float64),
            WeightMetadata("w", (3,), np.float32),
            InvalidWeightError,
            "dtype",
        ),
        (np.zeros(3, np.float32), {"name": "w"}, WeightTypeError, "WeightMetadata"),
        ([1.0, 2.0], None, WeightTypeError, "NumPy array"),
        ("weights", None, WeightTypeError, "NumPy array"),
        (np.array(["a"]), None, InvalidWeightError, "cannot be stored"),
        (np.zeros(2, dtype=object), None, InvalidWeightError, "cannot be stored"),
        (np.zeros(2, dtype=[("a", "i4")]), None, InvalidWeightError, "cannot be stored"),
        (np.ma.masked_array([1.0, 2.0], mask=[0, 1]), None, InvalidWeightError, "masked array"),
        (  # no element masked: still refused, so whether a mask is dropped never depends on data
            np.ma.masked_array(np.zeros(2, np.float32)),
            WeightMetadata("w", (2,), np.float32),
            InvalidWeightError,
            r"'w' is a NumPy masked array",
        ),
    ],
)
def test_bad_inputs_raise_one_clear_error(
    data: object, meta: object, error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        WeightTensor(data, meta)  # type: ignore[arg-type]


def test_metadata_rejects_negative_dimensions_and_unknown_dtypes() -> None:
    with pytest.raises(InvalidWeightError, match="negative"):
        WeightMetadata("w", (-1, 2), np.float32)
    with pytest.raises(InvalidWeightError):
        WeightMetadata("w", (1,), np.dtype("datetime64[s]"))


def test_metadata_round_trips_through_dict_with_bfloat16_by_name() -> None:
    meta = WeightMetadata("w", (2,), ml_dtypes.bfloat16, layer_type="Linear", extra={"lr": 0.1})
    data = meta.to_dict()
    assert data["dtype"] == "bfloat16"
    assert WeightMetadata.from_dict(data) == meta


def test_with_metadata_shares_values_and_changes_only_metadata() -> None:
    w = WeightTensor(np.ones(2, np.float32), WeightMetadata("a", (2,), np.float32))
    renamed = w.with_metadata(name="b")
    assert renamed.name == "b" and renamed.data is w.data
    assert renamed.content_hash == w.content_hash and renamed != w


def test_weight_tensor_works_with_numpy_functions() -> None:
    w = WeightTensor(np.arange(4, dtype=np.float32))
    assert float(np.sum(w)) == 6.0
    assert np.asarray(w, dtype=np.float64).dtype == np.float64
