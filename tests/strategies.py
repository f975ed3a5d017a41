"""Hypothesis strategies for arrays of every dtype Coral stores, with nasty bit patterns (they
live in :mod:`coral.testing.arrays`, beside the conformance suites that use them)."""

from __future__ import annotations

from coral.testing.arrays import arrays, shapes, strided_views

__all__ = ["arrays", "shapes", "strided_views"]
