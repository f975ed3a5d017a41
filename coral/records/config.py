"""Repository configuration, ``.coral/config.json``.

Keys are dotted (``"user.name"``, ``"core.compression"``). Known keys are validated on
``set``; unknown sections are kept as-is so tools can store their own settings. The file is
re-read on every access (it is tiny) so changes made by another process are seen at once.

Example:
    >>> repo.config.set("user.name", "Jane Doe")          # doctest: +SKIP
    >>> repo.config["core.similarity_threshold"]          # doctest: +SKIP
    0.98
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from coral.errors import ConfigError
from coral.records.backend import RecordBackend, RecordLock
from coral.records.document import JsonDocument
from coral.records.expiry import parse_expiry
from coral.records.keys import CONFIG

REPOSITORY_FORMAT = 1

# "gzip", "lzf" and "szip" are the reference system's names; they mean "compress losslessly"
# and select our default (byte-shuffle + zstd), because HDF5's gzip runs at ~30 MB/s here.
COMPRESSION_ALIASES = {"gzip": "zstd", "lzf": "zstd", "szip": "zstd"}
COMPRESSIONS = ("zstd", "none")
DELTA_TYPES = ("compressed", "previous", "sparse", "float32_raw", "int8_quantized")
"""Lossless delta strategies. ``compressed`` (default) and ``sparse`` try the linear prediction
from two previous versions and the previous version alone, dense or sparse, keeping the
smallest; ``previous`` and ``float32_raw`` (the reference system's name) use the previous
version only. ``int8_quantized`` is lossy and needs an explicit opt-in (``lossy=True`` or
``core.allow_lossy``)."""

PREDICTORS_FOR: dict[str, tuple[str, ...]] = {
    "compressed": ("linear", "previous"),
    "sparse": ("linear", "previous"),
    "previous": ("previous",),
    "float32_raw": ("previous",),
    "int8_quantized": ("previous",),
}


def _choice(*allowed: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(map(repr, allowed))}")
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _number(low: float, high: float) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError("must be a number")
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"must be between {low:g} and {high:g}")
        return float(value)

    return check


def _count(low: int, high: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"must be an integer between {low} and {high}")
        return value

    return check


def _expiry(value: Any) -> Any:
    parse_expiry(value)
    return value


def _compression(value: Any) -> str:
    value = COMPRESSION_ALIASES.get(value, value)
    return str(_choice(*COMPRESSIONS)(value))


_VALIDATORS: dict[str, Callable[[Any], Any]] = {
    "user.name": _text,
    "user.email": _text,
    "core.compression": _compression,
    "core.similarity_threshold": _number(0.0, 1.0),
    "core.delta_encoding": _boolean,
    "core.delta_type": _choice(*DELTA_TYPES),
    "core.max_delta_depth": _count(0, 1000),
    "core.verify_reads": _boolean,
    "core.lock_timeout": _number(0.0, 86400.0),
    "core.delta_cache_mb": _count(0, 1 << 20),
    "core.allow_lossy": _boolean,
    "core.repository_format": _count(REPOSITORY_FORMAT, REPOSITORY_FORMAT),
    "gc.prune_expire": _expiry,
    "gc.reflog_expire_unreachable": _expiry,
}

DEFAULTS: dict[str, Any] = {
    "core.compression": "zstd",
    "core.similarity_threshold": 0.98,
    "core.delta_encoding": True,
    "core.delta_type": "compressed",
    "core.max_delta_depth": 10,
    "core.verify_reads": True,
    "core.lock_timeout": 60.0,
    "core.delta_cache_mb": 1024,
    "core.allow_lossy": False,
    "core.repository_format": REPOSITORY_FORMAT,
    # git's defaults: unreachable objects live two weeks, reflog entries of lost commits 30 days
    "gc.prune_expire": "2.weeks.ago",
    "gc.reflog_expire_unreachable": "30.days.ago",
}

_MISSING = object()


def initial_config() -> dict[str, Any]:
    """The config.json a new repository starts with."""
    core = {k.split(".", 1)[1]: v for k, v in DEFAULTS.items() if k.startswith("core.")}
    return {"user": {}, "core": core}


class Config:
    """Dotted-key access to ``config.json`` with validation and defaults."""

    def __init__(self, records: RecordBackend, lock: RecordLock) -> None:
        self._document = JsonDocument(records, CONFIG, lock)

    def as_dict(self) -> dict[str, Any]:
        """The whole file as nested dicts."""
        return self._document.read()

    def get(self, key: str, default: Any = _MISSING) -> Any:
        """The value of ``key``, else its built-in default, else ``default``."""
        section, _, name = self._split(key)
        value = self.as_dict().get(section, {}).get(name, _MISSING)
        if value is _MISSING:
            if key in DEFAULTS:
                return DEFAULTS[key]
            if default is _MISSING:
                raise ConfigError(f"config key {key!r} is not set")
            return default
        validator = _VALIDATORS.get(key)
        if validator is not None:
            try:
                value = validator(value)
            except ValueError:
                raise ConfigError(
                    f"{self._document.where}: {key} = {value!r} is invalid; fix it with "
                    f"repo.config.set({key!r}, ...)"
                ) from None
        return value

    def set(self, key: str, value: Any) -> None:
        """Validate and persist one key."""
        section, _, name = self._split(key)
        validator = _VALIDATORS.get(key)
        if validator is None and section in ("user", "core", "gc"):
            known = ", ".join(k for k in _VALIDATORS if k.startswith(section + "."))
            raise ConfigError(f"unknown config key {key!r}; known {section} keys: {known}")
        if validator is not None:
            try:
                value = validator(value)
            except ValueError as err:
                raise ConfigError(f"invalid value {value!r} for {key}: {err}") from None
        with self._document.editing() as data:
            data.setdefault(section, {})[name] = value

    def unset(self, key: str) -> None:
        section, _, name = self._split(key)
        with self._document.editing() as data:
            data.get(section, {}).pop(name, None)

    def __getitem__(self, key: str) -> Any:
        return self.get(key)

    def __setitem__(self, key: str, value: Any) -> None:
        self.set(key, value)

    @staticmethod
    def _split(key: str) -> tuple[str, str, str]:
        if (
            not isinstance(key, str)
            or key.count(".") != 1
            or key.startswith(".")
            or key.endswith(".")
        ):
            raise ConfigError(f"config keys look like 'section.name', got {key!r}")
        return key.partition(".")

    def __repr__(self) -> str:
        return f"Config({self._document.where})"
