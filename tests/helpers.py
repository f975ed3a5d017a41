"""Assertions and builders shared by the tests."""

from __future__ import annotations

import numpy as np


def assert_bit_exact(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, same shape, same bytes: the only equality Coral accepts."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == np.ascontiguousarray(expected).tobytes()
