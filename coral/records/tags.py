"""Tagged versions: named, immutable pointers to commits, with metrics.

Each tag is ``versions/<version_id>.json`` holding exactly :meth:`Version.to_dict`, so the seed
chapter's ``Version.from_dict(json.load(f))`` works on the file. ``version_id`` is a hash of
``name:commit_hash``.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from coral.errors import (
    InvalidValueError,
    RefExistsError,
    RefNotFoundError,
    RepositoryFormatError,
)
from coral.records.commit import now_utc
from coral.records.refnames import check_ref_name
from coral.storage.fsutil import atomic_write_json, fsync_dir, read_json
from coral.storage.locking import RepositoryLock

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


def _is_tag_file(name: str) -> bool:
    return name.endswith(".json") and not name.startswith(".")


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
    def __init__(self, versions_dir: Path, tmp_dir: Path, lock: RepositoryLock) -> None:
        self.versions_dir = versions_dir
        self._tmp_dir = tmp_dir
        self._lock = lock
        self._cache: dict[tuple[str, int, int], Version] = {}

    def path(self, version_id: str) -> Path:
        return self.versions_dir / f"{version_id}.json"

    def all(self) -> dict[str, Version]:
        """Every tag, by version_id, oldest first.

        Parsed files are cached by (name, mtime, size), so resolving a ref costs one directory
        listing, not one read per tag.
        """
        try:
            entries = [e for e in os.scandir(self.versions_dir) if _is_tag_file(e.name)]
        except FileNotFoundError:
            return {}
        cache: dict[tuple[str, int, int], Version] = {}
        for entry in entries:
            stat = entry.stat()
            key = (entry.name, stat.st_mtime_ns, stat.st_size)
            version = self._cache.get(key)
            if version is None:
                try:
                    version = Version.from_dict(read_json(Path(entry.path)))
                except FileNotFoundError:
                    continue  # deleted while we listed
                except (ValueError, KeyError, TypeError, AttributeError) as err:
                    raise RepositoryFormatError(
                        f"tag file {entry.path} is unreadable: {err}"
                    ) from err
            cache[key] = version
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
            atomic_write_json(
                self.path(version.version_id), version.to_dict(), tmp_dir=self._tmp_dir
            )
        return version

    def delete(self, name: str) -> Version:
        with self._lock.hold():
            version = self.get(name)
            self.path(version.version_id).unlink()
            fsync_dir(self.versions_dir)
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
            atomic_write_json(
                self.path(checked.version_id), checked.to_dict(), tmp_dir=self._tmp_dir
            )
            if existing is not None:  # after the new file: a crash leaves a tag, never none
                self.path(existing.version_id).unlink()
        return True
