"""Coral's safetensors reader and writer against the ``safetensors`` library, both ways,
bit-exact, every dtype the format has (bfloat16 and float8 included)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from coral.errors import InvalidValueError, InvalidWeightError
from coral.integrations.safetensors import load_safetensors, save_safetensors
from tests.helpers import assert_bit_exact

st_numpy = pytest.importorskip("safetensors.numpy")


def _every_dtype() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    special = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 1], np.uint32).view(np.float32)
    return {
        "f32": rng.standard_normal((7, 5)).astype(np.float32),
        "f32.special": special,
        "f16": rng.standard_normal(9).astype(np.float16),
        "bf16": rng.standard_normal((4, 4)).astype(ml_dtypes.bfloat16),
        "f8": rng.standard_normal(6).astype(ml_dtypes.float8_e4m3fn),
        "f8b": rng.standard_normal(6).astype(ml_dtypes.float8_e5m2),
        "f64": rng.standard_normal(3),
        "i8": rng.integers(-128, 127, 10, dtype=np.int8),
        "u64": rng.integers(0, 2**63, 2, dtype=np.uint64),
        "mask": rng.random(5) > 0.5,
        "scalar": np.array(3.5, np.float32),
        "empty": np.zeros((0, 3), np.float32),
        "c64": (rng.standard_normal(4) + 1j).astype(np.complex64),
    }


def test_round_trip_every_dtype(tmp_path: Path) -> None:
    weights = _every_dtype()
    path = save_safetensors(weights, tmp_path / "m.safetensors", {"source": "coral"})
    back = load_safetensors(path)
    assert back.keys() == weights.keys()
    for name, arr in weights.items():
        assert_bit_exact(back[name], arr)


def test_the_safetensors_library_reads_ours_and_we_read_its(tmp_path: Path) -> None:
    # safetensors.numpy knows NumPy's own dtypes only (bfloat16 and float8: see the torch test).
    numpy_own = {"f32", "f32.special", "f16", "f64", "i8", "u64", "mask", "scalar", "empty"}
    plain = {k: v for k, v in _every_dtype().items() if k in numpy_own}
    path = save_safetensors(plain, tmp_path / "ours.safetensors")
    theirs = st_numpy.load_file(str(path))
    for name, arr in plain.items():
        assert_bit_exact(theirs[name], arr)
    st_numpy.save_file(plain, str(tmp_path / "theirs.safetensors"))
    for name, arr in load_safetensors(tmp_path / "theirs.safetensors").items():
        assert_bit_exact(arr, plain[name])


def test_torch_reads_bfloat16_bit_exact(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    bf16 = np.random.default_rng(0).standard_normal((8, 8)).astype(ml_dtypes.bfloat16)
    path = save_safetensors({"w": bf16}, tmp_path / "bf16.safetensors")
    loaded = st_torch.load_file(str(path))["w"]
    assert loaded.dtype == torch.bfloat16
    assert loaded.view(torch.int16).numpy().tobytes() == bf16.tobytes()
    st_torch.save_file({"w": loaded}, str(tmp_path / "back.safetensors"))
    assert_bit_exact(load_safetensors(tmp_path / "back.safetensors")["w"], bf16)


def test_malformed_files_are_refused_with_one_clear_error(tmp_path: Path) -> None:
    good = save_safetensors({"w": np.ones(4, np.float32)}, tmp_path / "g.safetensors")
    data = good.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    cases = {
        "short": b"abc",
        "huge-length": struct.pack("<Q", 1 << 40) + data[8:],
        "not-json": struct.pack("<Q", 4) + b"nope" + data[12:],
        "outside": _with(header, data, length, {"data_offsets": [0, 400], "shape": [100]}),
        "wrong-size": _with(header, data, length, {"shape": [5]}),
        "dtype": _with(header, data, length, {"dtype": "F128"}),
    }
    for name, blob in cases.items():
        bad = tmp_path / f"{name}.safetensors"
        bad.write_bytes(blob)
        with pytest.raises(InvalidValueError):
            load_safetensors(bad)
    with pytest.raises(InvalidWeightError, match="complex128"):
        save_safetensors({"c": np.zeros(2, np.complex128)}, tmp_path / "c.safetensors")
    assert not (tmp_path / "c.safetensors").exists()


def _with(header: dict, data: bytes, length: int, change: dict) -> bytes:  # type: ignore[type-arg]
    edited = {**header, "w": {**header["w"], **change}}
    raw = json.dumps(edited).encode()
    return struct.pack("<Q", len(raw)) + raw + data[8 + length :]
