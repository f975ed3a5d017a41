"""The compiled plane-merge loop gives exactly the bytes of the NumPy route."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coral.core import kernels
from coral.delta import ZIGZAG
from coral.delta.residual import as_words, predict, reconstruct_from_planes, zigzag_residual
from coral.storage.codecs import CHUNK_BYTES, SHUFFLE_ZSTD
from tests.test_delta import _payload

needs_jit = pytest.mark.skipif(
    not kernels.jit_available(), reason="Numba (the 'fast' extra) is not installed"
)
_UINT = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
_MODE_PREDICTOR = {kernels.PREVIOUS: "previous", kernels.LINEAR: "linear"}


@contextmanager
def jit_for_any_size() -> Iterator[None]:
    old = kernels.MIN_JIT_WORDS
    kernels.MIN_JIT_WORDS = 1
    try:
        yield
    finally:
        kernels.MIN_JIT_WORDS = old


@pytest.fixture(params=[True, False], ids=["jit", "numpy"])
def jit_enabled(request: pytest.FixtureRequest) -> Iterator[bool]:
    if request.param and not kernels.jit_available():
        pytest.skip("Numba (the 'fast' extra) is not installed")
    old = kernels.JIT.enabled
    kernels.JIT.enabled = request.param
    yield request.param
    kernels.JIT.enabled = old


@needs_jit
@given(
    word=st.sampled_from([1, 2, 4, 8]),
    mode=st.sampled_from([kernels.PLAIN, kernels.PREVIOUS, kernels.LINEAR]),
    size=st.integers(1, 3000),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=120, deadline=None)
def test_the_compiled_loop_matches_numpy_for_every_width_and_mode(
    word: int, mode: int, size: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    planes = [rng.integers(0, 256, size, dtype=np.uint8) for _ in range(word)]
    bases = [rng.integers(0, 256, size * word, dtype=np.uint8).view(_UINT[word]) for _ in "ab"]
    bases[0].flags.writeable = False  # decoded bases are read-only; the kernel must accept them

    expected = np.empty(size, _UINT[word])
    if mode == kernels.PLAIN:
        kernels.scatter_planes(planes, expected.view(np.uint8).reshape(-1, word))
    else:
        reconstruct_from_planes(planes, bases, _MODE_PREDICTOR[mode], expected)

    got = np.empty(size, _UINT[word])
    with jit_for_any_size():
        assert kernels.fused_merge(planes, got, mode, *bases)
    assert got.tobytes() == expected.tobytes()


def test_small_blocks_and_wide_words_take_the_numpy_route() -> None:
    tiny = np.empty(kernels.MIN_JIT_WORDS - 1, np.uint32)
    assert not kernels.fused_merge([np.zeros(tiny.size, np.uint8)] * 4, tiny)
    wide = np.empty((kernels.MIN_JIT_WORDS, 2), np.uint64).view(np.complex128).ravel()
    assert not kernels.fused_merge([np.zeros(wide.size, np.uint8)] * 16, wide)


def test_the_compiled_loop_can_be_switched_off() -> None:
    old = kernels.JIT.enabled
    kernels.JIT.enabled = False
    try:
        assert not kernels.jit_available()
        out = np.empty(kernels.MIN_JIT_WORDS, np.uint16)
        assert not kernels.fused_merge([np.zeros(out.size, np.uint8)] * 2, out)
    finally:
        kernels.JIT.enabled = old


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int64])
def test_large_objects_decode_identically_on_both_routes(
    jit_enabled: bool, dtype: type, rng: np.random.Generator
) -> None:
    # More than one chunk of rows, and a ragged last chunk.
    size = CHUNK_BYTES + 12_345
    scale = 1e6 if np.dtype(dtype).kind == "i" else 1.0  # integers: counts that move
    older = rng.standard_normal(size) * 0.02
    newer = older * 0.999 + 1e-4
    older, newer, target = ((v * scale).astype(dtype) for v in (older, newer, newer + 1.5e-4))

    full = SHUFFLE_ZSTD.encode(target)
    out = np.empty(target.nbytes, np.uint8)
    SHUFFLE_ZSTD.decode(full.params, _payload(full), out)
    assert out.tobytes() == target.tobytes()

    for predictor, bases in (("previous", [newer]), ("linear", [newer, older])):
        residual = zigzag_residual(as_words(target), predict(bases, predictor))
        delta = ZIGZAG.encode_residual(residual, predictor)
        assert delta.params["inner_codec"] == "shuffle-zstd"
        out = np.empty(target.nbytes, np.uint8)
        ZIGZAG.decode(delta.params, _payload(delta), out, bases)
        assert out.tobytes() == target.tobytes()


def test_a_child_forked_while_the_kernel_loads_uses_numpy() -> None:
    import os

    jit = kernels._Jit()
    jit._started = True  # as if a background load were under way in this process
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            jit._reset_unless_loaded()  # what os.register_at_fork runs in the child
            code = 0 if (jit.ready() is None and not jit.enabled) else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_delta_whose_bases_have_another_word_size_is_refused() -> None:
    from coral.errors import CorruptObjectError

    target = np.arange(CHUNK_BYTES // 2, dtype=np.float16)
    base32 = np.zeros(target.size // 2, np.float32)  # same bytes, twice the word size
    residual = zigzag_residual(as_words(target), predict([target], "previous"))
    delta = ZIGZAG.encode_residual(residual, "previous")
    out = np.empty(target.nbytes, np.uint8)
    with pytest.raises(CorruptObjectError, match="word size"):
        ZIGZAG.decode(delta.params, _payload(delta), out, [base32])
