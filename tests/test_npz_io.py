"""``.npz`` in and out: bit-exact for every dtype, bfloat16 and float8 included; pickles
refused without being loaded."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from coral.errors import InvalidValueError
from coral.integrations.npz import load_npz, save_npz
from tests.helpers import assert_bit_exact


def test_round_trip_with_dtypes_numpy_lacks(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    weights = {
        "bf16": rng.standard_normal((3, 4)).astype(ml_dtypes.bfloat16),
        "f8": rng.standard_normal(5).astype(ml_dtypes.float8_e4m3fn),
        "nan": np.array([0x7FC00001, 0x80000000], np.uint32).view(np.float32),
        "i64": rng.integers(-5, 5, 7),
        "mask": np.array([True, False]),
    }
    back = load_npz(save_npz(weights, tmp_path / "w.npz"))
    assert back.keys() == weights.keys()
    for name, arr in weights.items():
        assert_bit_exact(back[name], arr)
    plain = dict(np.load(tmp_path / "w.npz", allow_pickle=False))  # a plain NumPy reader
    assert plain["bf16"].dtype == np.uint16


def test_pickles_and_unknown_raw_bytes_are_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            return (marker.touch, ())

    np.savez(tmp_path / "evil.npz", x=np.array([Payload()], dtype=object))
    with pytest.raises(InvalidValueError, match="pickled"):
        load_npz(tmp_path / "evil.npz")
    assert not marker.exists()
    np.savez(tmp_path / "void.npz", x=np.zeros(3, ml_dtypes.bfloat16))
    with pytest.raises(InvalidValueError, match="unknown dtype"):
        load_npz(tmp_path / "void.npz")
