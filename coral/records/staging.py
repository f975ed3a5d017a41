"""The staging area, ``staging/staged.json``: what was staged since the last commit.

Staged weights are already in the object store (staging writes them); this file only maps
names to object IDs, lists staged removals and says whether the next commit is a *partial*
update (HEAD's other weights carried forward) or the snapshot of exactly what was staged
(:mod:`.snapshot` turns it into the next commit's weights). It is shared by everything that
opens the repository, like git's index, and every change to it is a locked
read-modify-write, so two processes staging at once never drop each other's entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coral.core.weight_tensor import WeightMetadata
from coral.errors import RepositoryFormatError
from coral.records.backend import RecordBackend, RecordLock
from coral.records.keys import STAGING
from coral.storage.fsutil import dumps_json, loads_json

STAGING_FORMAT = 1


@dataclass(frozen=True)
class StagedWeight:
    """A staged weight: its object (already stored) and its metadata."""

    object_id: str
    metadata: WeightMetadata


@dataclass(frozen=True)
class StagedChanges:
    """Weights staged since the last commit, names staged for removal, and whether the next
    commit keeps HEAD's weights that were not staged (``partial``)."""

    weights: dict[str, StagedWeight] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()
    partial: bool = False

    @property
    def empty(self) -> bool:
        return not self.weights and not self.removed

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STAGING_FORMAT,
            "weights": {
                name: {
                    "object_id": sw.object_id,
                    **{k: v for k, v in sw.metadata.to_dict().items() if k != "name"},
                }
                for name, sw in sorted(self.weights.items())
            },
            "removed": sorted(self.removed),
            "partial": self.partial,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StagedChanges:
        if data.get("format") != STAGING_FORMAT:
            raise ValueError(f"unsupported staging format {data.get('format')!r}")
        weights = {
            name: StagedWeight(
                entry["object_id"],
                WeightMetadata.from_dict(
                    {"name": name, **{k: v for k, v in entry.items() if k != "object_id"}}
                ),
            )
            for name, entry in data["weights"].items()
        }
        partial = data.get("partial", False)
        if not isinstance(partial, bool):
            raise ValueError(f"'partial' must be true or false, got {partial!r}")
        return cls(weights, frozenset(data.get("removed", [])), partial)


class StagingArea:
    """A staging area kept as one record (``key``: HEAD's shared one by default; a run
    keeps its own under another key), changed by locked read-modify-writes."""

    def __init__(self, records: RecordBackend, lock: RecordLock, key: str = STAGING) -> None:
        self.records = records
        self.key = key
        self._lock = lock

    def read(self) -> StagedChanges:
        try:
            raw = self.records.read(self.key)
            return StagedChanges() if raw is None else StagedChanges.from_dict(loads_json(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise RepositoryFormatError(
                f"{self.records.describe(self.key)} is unreadable ({err}); delete it to clear "
                "the staging area"
            ) from err

    def _write(self, changes: StagedChanges) -> None:
        self.records.write(self.key, dumps_json(changes.to_dict()))

    def stage(
        self,
        weights: dict[str, StagedWeight],
        removed: set[str] | None = None,
        *,
        partial: bool = False,
    ) -> None:
        """Add or replace staged weights and stage removals, atomically. ``partial`` marks
        the next commit as a partial update; once marked it stays so until that commit."""
        removed = removed or set()
        with self._lock.hold():
            current = self.read()
            merged = {n: w for n, w in current.weights.items() if n not in removed}
            merged.update(weights)
            still_removed = (current.removed - weights.keys()) | removed
            self._write(StagedChanges(merged, frozenset(still_removed), current.partial or partial))

    def unstage(self, names: set[str] | None = None) -> None:
        """Forget staged changes for ``names`` (all when None)."""
        with self._lock.hold():
            if names is None:
                self._write(StagedChanges())
                return
            current = self.read()
            weights = {n: w for n, w in current.weights.items() if n not in names}
            removed = current.removed - names
            # an emptied area forgets the partial mark: the next stage starts afresh
            self._write(
                StagedChanges(weights, removed, current.partial and bool(weights or removed))
            )

    def clear_committed(self, committed: StagedChanges) -> None:
        """Drop what a commit took, keeping anything re-staged since it read the area."""
        with self._lock.hold():
            current = self.read()
            self._write(
                StagedChanges(
                    {n: w for n, w in current.weights.items() if committed.weights.get(n) != w},
                    current.removed - committed.removed,
                    # a partial mark the commit used is spent; one set since stays
                    current.partial and not committed.partial,
                )
            )
