"""Grace periods written the way git writes them: ``now``, ``never``, ``2.weeks.ago``.

Also accepted: ``14d``, ``3h``, ``90m``, ``30s``, ``2w`` and a plain number of seconds.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

_UNITS = {
    "s": 1,
    "second": 1,
    "m": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 7 * 86400,
    "week": 7 * 86400,
}
_SHORT = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_GIT = re.compile(r"(\d+)\.(second|minute|hour|day|week)s?\.ago")


def parse_expiry(value: object) -> timedelta | None:
    """How old something must be to expire; None means never.

    Raises:
        ValueError: with the forms that are understood.
    """
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise ValueError("a grace period cannot be negative")
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ValueError("a grace period must be a non-negative number of seconds")
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "now":
            return timedelta(0)
        if text == "never":
            return None
        for pattern in (_SHORT, _GIT):
            match = pattern.fullmatch(text)
            if match:
                return timedelta(seconds=float(match[1]) * _UNITS[match[2]])
    raise ValueError(
        f"{value!r} is not a grace period; use 'now', 'never', '2.weeks.ago', '14d', '3h', "
        "'90m' or a number of seconds"
    )
