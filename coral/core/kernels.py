"""The inner loop of every read: byte planes merged back into words, optionally with a residual
added to a prediction, in one pass.

A stored object is a set of byte planes (byte ``p`` of every element together). Merging them
with NumPy takes one strided write per plane, and a delta then needs a second pass for
``prediction + unzigzag(residual)``: ~1.4 GB/s per core at best, blocked in cache (measured
here). A compiled loop does both at ~10 GB/s per core, so a read is bound by zstd alone. The
loop is compiled with Numba when the ``fast`` extra is installed; otherwise (and until it has
loaded, see :class:`_Jit`) callers fall back to NumPy, which gives the same bytes.
``CORAL_JIT=0`` turns the compiled loop off.

The arithmetic is done on 64-bit unsigned integers and truncated when stored: addition,
subtraction and the zigzag inverse all commute with reduction modulo ``2**bits``, so the result
is exact for every word width.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

PLAIN, PREVIOUS, LINEAR = 0, 1, 2
"""Modes: the merged word itself; ``base0 + unzigzag(word)``;
``2*base0 - base1 + unzigzag(word)``."""

MIN_JIT_WORDS = 1 << 15
"""Smaller blocks are merged with NumPy: they gain little, and a process that only ever reads
small tensors never pays for loading the compiled code."""

_WORD_SIZES = (1, 2, 4, 8)


def _merge_kernel(planes: Any, base0: Any, base1: Any, mode: int, out: Any) -> None:
    # Compiled by Numba (nopython): plain loops over scalars, no Python objects.
    one = np.uint64(1)
    zero = np.uint64(0)
    for i in range(out.size):
        word = zero
        for p in range(len(planes)):
            word |= np.uint64(planes[p][i]) << np.uint64(8 * p)
        if mode == PLAIN:
            out[i] = word
        else:
            delta = (word >> one) ^ (zero - (word & one))
            prediction = np.uint64(base0[i])
            if mode == LINEAR:
                prediction = prediction + prediction - np.uint64(base1[i])
            out[i] = prediction + delta


class _Jit:
    """Numba's compiled kernel, loaded once per process, in the background.

    Loading costs ~0.8 s (importing Numba, reading the compiled code from its cache), about
    what the loop saves on a couple of gigabytes. So it is loaded only by processes that decode
    large objects, on a background thread, and reads use NumPy until it is ready: a short
    script never waits for it, a notebook or a checkout of a big model soon runs on it.
    """

    def __init__(self) -> None:
        self.enabled = os.environ.get("CORAL_JIT", "1") != "0"
        self._reset()
        os.register_at_fork(after_in_child=self._reset_unless_loaded)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._kernel: Callable[..., None] | None = None
        self._loaded = threading.Event()
        self._started = False

    def _reset_unless_loaded(self) -> None:
        # A load running on a thread of the parent does not exist in a forked child, and the
        # import locks that thread held stay held there: importing Numba in the child could
        # hang. A child forked mid-load uses NumPy; one forked before any load may load.
        if not self._loaded.is_set():
            interrupted = self._started
            self._reset()
            if interrupted:
                self.enabled = False

    def ready(self) -> Callable[..., None] | None:
        """The kernel if it is loaded, else None; never waits."""
        return self._kernel if self.enabled and self._loaded.is_set() else None

    def warm_up(self) -> None:
        """Start loading the kernel in the background (once; no-op when disabled)."""
        if not self.enabled or self._started:
            return
        with self._lock:
            first, self._started = not self._started, True
        if first:
            threading.Thread(target=self._load, name="coral-jit-load", daemon=True).start()

    def kernel(self) -> Callable[..., None] | None:
        """The kernel, loading it now if needed; None when unavailable or disabled."""
        if not self.enabled:
            return None
        self.warm_up()
        self._loaded.wait()
        return self._kernel

    def _load(self) -> None:
        try:
            self._kernel = _compile()
        except Exception:  # a broken Numba install must not break reads: NumPy stays
            self._kernel = None
        finally:
            self._loaded.set()


def _compile() -> Callable[..., None] | None:
    if importlib.util.find_spec("numba") is None:
        return None
    import numba  # the "fast" extra

    compiled: Callable[..., None] = numba.njit(nogil=True, cache=True, boundscheck=False)(
        _merge_kernel
    )
    # Compile (or load from Numba's cache) every signature fused_merge can call, here, on the
    # loading thread: a compile on a reader thread would hold Numba's lock, and a process
    # forked meanwhile would hang at its first compile.
    for word in _WORD_SIZES:
        out = np.zeros(1, dtype=f"u{word}")
        planes = tuple(_readonly(np.zeros(1, np.uint8)) for _ in range(word))
        compiled(planes, _readonly(out), _readonly(out), PLAIN, out)
    return compiled


JIT = _Jit()

WARM_UP_BYTES = 32 << 20
"""Decoding an object at least this large starts loading the compiled loop."""


def jit_available() -> bool:
    """Whether reads can use the compiled loop (Numba installed and ``CORAL_JIT`` not ``0``);
    loads it if needed."""
    return JIT.kernel() is not None


def warm_up_for(nbytes: int) -> None:
    """Called before decoding ``nbytes``: start loading the compiled loop if it will pay."""
    if nbytes >= WARM_UP_BYTES:
        JIT.warm_up()


def fused_merge(
    planes: Sequence[np.ndarray],
    out: np.ndarray,
    mode: int = PLAIN,
    base0: np.ndarray | None = None,
    base1: np.ndarray | None = None,
) -> bool:
    """Merge ``planes`` (uint8, one per byte of ``out``'s words) into ``out`` (flat unsigned
    words) with the compiled loop; False, with nothing written, when it is not available."""
    if out.size < MIN_JIT_WORDS or out.dtype.itemsize not in _WORD_SIZES:
        return False
    kernel = JIT.ready()
    if kernel is None:
        return False
    base0 = out if base0 is None else base0
    base1 = base0 if base1 is None else base1
    _check_shapes(planes, out, base0, base1)  # the loop runs without bounds checks
    # Always the same argument types (read-only planes and bases), so every call uses one of
    # the signatures compiled in the background and nothing compiles on a reader thread.
    readonly = tuple(_readonly(plane) for plane in planes)
    kernel(readonly, _readonly(base0), _readonly(base1), mode, out)
    return True


def _check_shapes(
    planes: Sequence[np.ndarray], out: np.ndarray, base0: np.ndarray, base1: np.ndarray
) -> None:
    if out.ndim != 1 or not out.flags.c_contiguous or len(planes) != out.dtype.itemsize:
        raise ValueError("fused_merge needs a flat output and one plane per byte of its words")
    for plane in planes:
        if plane.dtype != np.uint8 or plane.shape != out.shape or not plane.flags.c_contiguous:
            raise ValueError("fused_merge planes must be contiguous uint8 of the output's length")
    for base in (base0, base1):
        if base.dtype != out.dtype or base.shape != out.shape or not base.flags.c_contiguous:
            raise ValueError("fused_merge bases must be contiguous words like the output")


def scatter_planes(planes: Sequence[np.ndarray], rows: np.ndarray) -> None:
    """NumPy route: ``rows[:, p] = planes[p]`` for a (n, itemsize) uint8 block."""
    for p, plane in enumerate(planes):  # plane by plane: long inner loops, in cache
        rows[:, p] = plane


def _readonly(plane: np.ndarray) -> np.ndarray:
    if not plane.flags.writeable:
        return plane
    view: np.ndarray = plane.view()
    view.flags.writeable = False
    return view
