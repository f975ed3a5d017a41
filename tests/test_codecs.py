"""Codecs are bit-exact for every dtype and bit pattern, and detect damaged payloads."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings

from coral.core.dtypes import byte_view
from coral.errors import CorruptObjectError
from coral.storage.codecs import CHUNK_BYTES, RAW, SHUFFLE_ZSTD, Encoded, get_codec
from tests.strategies import arrays


def _payload(encoded: Encoded) -> np.ndarray:
    parts = [np.frombuffer(s, np.uint8) if isinstance(s, bytes) else s for s in encoded.segments]
    return np.concatenate(parts) if parts else np.empty(0, np.uint8)


def _round_trip(arr: np.ndarray, codec: object = SHUFFLE_ZSTD) -> tuple[bytes, Encoded]:
    encoded = codec.encode(arr)  # type: ignore[attr-defined]
    out = np.empty(arr.nbytes, np.uint8)
    get_codec(encoded.codec).decode(encoded.params, _payload(encoded), out)
    return out.tobytes(), encoded


@given(arrays())
@settings(max_examples=300, deadline=None)
def test_shuffle_zstd_round_trips_every_bit_pattern(arr: np.ndarray) -> None:
    decoded, _ = _round_trip(arr)
    assert decoded == byte_view(arr).tobytes()


@given(arrays())
@settings(max_examples=100, deadline=None)
def test_raw_codec_round_trips_every_bit_pattern(arr: np.ndarray) -> None:
    decoded, _ = _round_trip(arr, RAW)
    assert decoded == byte_view(arr).tobytes()


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float16, ml_dtypes.bfloat16, np.float64, np.int64, np.int8]
)
def test_multi_chunk_weights_round_trip_and_compress(dtype: type) -> None:
    rng = np.random.default_rng(7)
    n = CHUNK_BYTES + 12345  # more than one chunk per plane, with a ragged last chunk
    arr = (rng.standard_normal(n) * 0.02).astype(dtype)
    decoded, encoded = _round_trip(arr)
    assert decoded == byte_view(arr).tobytes()
    assert encoded.codec == "shuffle-zstd"
    assert encoded.nbytes < 0.9 * arr.nbytes  # exponent bytes of trained-like weights shrink


def test_incompressible_bytes_are_stored_raw_without_cost() -> None:
    arr = np.random.default_rng(3).integers(0, 256, size=3 * CHUNK_BYTES, dtype=np.uint8)
    decoded, encoded = _round_trip(arr)
    assert encoded.codec == "raw" and encoded.nbytes == arr.nbytes
    assert decoded == arr.tobytes()


def test_nan_payloads_negative_zero_and_subnormals_survive_in_bulk() -> None:
    patterns = np.array(
        [0x80000000, 0x7FC00001, 0xFFBADBAD, 0x00000001, 0x807FFFFF, 0x7F800000], np.uint32
    )
    arr = np.tile(patterns, CHUNK_BYTES // 3).view(np.float32)
    decoded, _ = _round_trip(arr)
    assert decoded == arr.tobytes()


def test_truncated_payload_is_reported_as_corruption() -> None:
    arr = np.arange(10_000, dtype=np.float32)
    encoded = SHUFFLE_ZSTD.encode(arr)
    payload = _payload(encoded)[:-7]
    with pytest.raises(CorruptObjectError):
        get_codec(encoded.codec).decode(encoded.params, payload, np.empty(arr.nbytes, np.uint8))


def test_unknown_codec_name_is_a_clear_error() -> None:
    with pytest.raises(CorruptObjectError, match="unknown codec 'lzma-9'"):
        get_codec("lzma-9")
