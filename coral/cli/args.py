"""Argument types shared by the ``coral`` command and the ``%coral`` magics."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def key_value(text: str) -> tuple[str, Any]:
    """``k=v`` with ``v`` read as JSON when it is JSON (numbers, true/false, lists), else text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def metric(text: str) -> tuple[str, float]:
    """``name=number`` (finite)."""
    key, value = key_value(text)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"metric {key!r} must be a finite number, got {value!r}")
    return key, float(value)
