"""Tagged versions: named, immutable pointers to commits, with metrics.

Each tag is the record ``versions/<version_id>.json`` holding exactly :meth:`Version.to_dict`, so
``Version.from_dict(json.load(f))`` reads the file back. ``version_id`` is a hash of
``name:commit_hash``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coral.errors import (
    InvalidValueError,
    RefExistsError,
    RefNotFoundError,
    RepositoryFormatError,
)
from coral.records.backend import RecordBackend, RecordLock, RecordStat
from coral.records.commit import now_utc
from coral.records.keys import VERSIONS
from coral.records.refnames import check_ref_name
from coral.storage.fsutil import dumps_json, loads_json

VERSION_ID_LENGTH = 16


def make_version_id(name: str, commit_hash: str) -> str:
    return hashlib.sha256(f"{name}:{commit_hash}".encode()).hexdigest()[:VERSION_ID_LENGTH]


@dataclass
class Version:
    """A named milestone: ``repo.tag_version("v1.0", metrics={"acc": 0.95})``."""

    version_id: str
    commit_hash: str
    name: str
    description: str | None = None
    metrics: dict[str, float] | None = None
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "version_id": self.version_id,
            "commit_hash": self.commit_hash,
            "name": self.name,
            "description": self.description,
            "metrics": self.metrics,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Version:
        created = data.get("created_at")
        return cls(
            version_id=data["version_id"],
            commit_hash=data["commit_hash"],
            name=data["name"],
            description=data.get("description"),
            metrics=dict(data["metrics"]) if data.get("metrics") is not None else None,
            created_at=datetime.fromisoformat(created) if created else None,
        )


def check_metrics(metrics: Mapping[str, Any] | None) -> dict[str, float] | None:
    """Metrics must map names to finite real numbers (NumPy scalars too); ints become floats."""
    if metrics is None:
        return None
    if not isinstance(metrics, Mapping):
        raise InvalidValueError(
            f"metrics must be a dict of name -> number, got {type(metrics).__name__}"
        )
    clean: dict[str, float] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise InvalidValueError(f"metric names must be non-empty strings, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidValueError(f"metric {key!r} must be a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise InvalidValueError(f"metric {key!r} must be a finite float, got {value}")
        clean[key] = number
    return clean


class VersionStore:
    """The tags, over a :class:`RecordBackend`; created, installed and deleted under ``lock``."""

    def __init__(self, records: RecordBackend, lock: RecordLock) -> None:
        self.records = records
        self._lock = lock
        self._cache: dict[tuple[str, RecordStat], Version] = {}

    @staticmethod
    def _key(version_id: str) -> str:
        return f"{VERSIONS}/{version_id}.json"

    def all(self) -> dict[str, Version]:
        """Every tag, by version_id, oldest first.

        Parsed records are cached by their change stamp (on disk: mtime and size), so
        resolving a ref costs one listing, not one read per tag.
        """
        cache: dict[tuple[str, RecordStat], Version] = {}
        for key in self.records.list(VERSIONS):
            stat = self.records.stat(key) if key.endswith(".json") else None
            if stat is None:
                continue  # not a tag, or deleted while we listed
            version = self._cache.get((key, stat))
            if version is None:
                try:
                    raw = self.records.read(key)
                    if raw is None:
                        continue  # deleted while we listed
                    version = Version.from_dict(loads_json(raw))
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    raise RepositoryFormatError(
                        f"tag file {self.records.describe(key)} is unreadable: {err}"
                    ) from err
            cache[key, stat] = version
        self._cache = cache
        versions = sorted(
            cache.values(),
            key=lambda v: (v.created_at.isoformat() if v.created_at else "", v.name),
        )
        return {v.version_id: v for v in versions}

    def by_name(self, name: str) -> Version | None:
        for version in self.all().values():
            if version.name == name:
                return version
        return None

    def get(self, name: str) -> Version:
        version = self.by_name(name)
        if version is None:
            names = [v.name for v in self.all().values()]
            close = difflib.get_close_matches(name, names, n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise RefNotFoundError(f"tag {name!r} does not exist{hint}")
        return version

    def create(
        self,
        name: str,
        commit_hash: str,
        description: str | None,
        metrics: Mapping[str, Any] | None,
    ) -> Version:
        check_ref_name(name, "tag")
        if description is not None and not isinstance(description, str):
            raise InvalidValueError("description must be a string")
        version = Version(
            version_id=make_version_id(name, commit_hash),
            commit_hash=commit_hash,
            name=name,
            description=description,
            metrics=check_metrics(metrics),
            created_at=now_utc(),
        )
        with self._lock.hold():
            existing = self.by_name(name)
            if existing is not None:
                raise RefExistsError(
                    f"tag {name!r} already exists (on commit {existing.commit_hash[:8]}); "
                    "tags are immutable: delete it first or pick another name"
                )
            self.records.write(self._key(version.version_id), dumps_json(version.to_dict()))
        return version

    def delete(self, name: str) -> Version:
        with self._lock.hold():
            version = self.get(name)
            self.records.delete(self._key(version.version_id))
        return version

    def install(self, version: Version, *, replace: bool = False) -> bool:
        """Store a tag received from elsewhere (a remote), as it was made there: its name,
        commit, description, metrics and time. Its file name is recomputed from name and
        commit, never taken from the sender. Returns False when a tag of that name exists
        on another commit and ``replace`` is off (the local one wins)."""
        check_ref_name(version.name, "tag")
        checked = Version(
            version_id=make_version_id(version.name, version.commit_hash),
            commit_hash=version.commit_hash,
            name=version.name,
            description=version.description if isinstance(version.description, str) else None,
            metrics=check_metrics(version.metrics),
            created_at=version.created_at,
        )
        with self._lock.hold():
            existing = self.by_name(version.name)
            if existing is not None:
                if existing.commit_hash == version.commit_hash:
                    return True
                if not replace:
                    return False
            self.records.write(self._key(checked.version_id), dumps_json(checked.to_dict()))
            if existing is not None:  # after the new record: a crash leaves a tag, never none
                self.records.delete(self._key(existing.version_id))
        return True
