"""``repo.status()``: what the next commit would add, modify and remove against HEAD."""

from __future__ import annotations

from dataclasses import dataclass, field

from coral.records.commit import Commit
from coral.records.staging import StagedChanges
from coral.workspace.snapshot import next_snapshot


@dataclass(frozen=True)
class Status:
    """What ``repo.status()`` reports: where HEAD is and what the next commit would change.

    Attributes:
        added, modified, unchanged: staged names, by how they compare with HEAD.
        removed: HEAD's names the next commit leaves out: staged removals, and the weights a
            snapshot of the staged model no longer holds (a dropped layer).
        partial: the commit keeps HEAD's weights that were not staged.
    """

    branch: str | None
    head: str | None
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    partial: bool = False

    @property
    def clean(self) -> bool:
        """True when nothing is staged."""
        return not (self.added or self.modified or self.removed or self.unchanged)

    @property
    def removal_summary(self) -> str | None:
        """``"removes 2 weights: 2.bias, 2.weight"``, or None when nothing is removed."""
        return removal_summary(self.removed, "removes")

    @property
    def has_changes(self) -> bool:
        """True when committing would record something new."""
        return bool(self.added or self.modified or self.removed)

    def __str__(self) -> str:
        where = (
            f"On branch {self.branch}" if self.branch else f"HEAD detached at {str(self.head)[:8]}"
        )
        lines = [where if self.head else f"{where} (no commits yet)"]
        if self.clean:
            lines.append("nothing staged")
        for label, names in (
            ("new", self.added),
            ("modified", self.modified),
            ("removed", self.removed),
            ("unchanged", self.unchanged),
        ):
            lines += [f"  {label + ':':11}{name}" for name in names]
        if self.removal_summary:
            lines.append(f"the next commit {self.removal_summary}")
        if self.partial:
            lines.append("partial update: HEAD's weights that were not staged are kept")
        return "\n".join(lines)


def removal_summary(names: list[str], verb: str, shown: int = 8) -> str | None:
    """``"<verb> 2 weights: a, b"`` (the first ``shown`` names), or None for no names."""
    if not names:
        return None
    listed = ", ".join(names[:shown]) + (
        f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    )
    return f"{verb} {len(names)} weight{'s' if len(names) != 1 else ''}: {listed}"


def compute_status(branch: str | None, parent: Commit | None, staged: StagedChanges) -> Status:
    """Classify each staged entry against the parent commit, and name what the snapshot
    leaves out of it."""
    base = parent.weight_hashes if parent else {}
    base_metadata = parent.weight_metadata if parent else {}
    added, modified, unchanged = [], [], []
    for name, entry in sorted(staged.weights.items()):
        if name not in base:
            added.append(name)
        elif (base[name], base_metadata.get(name)) != (entry.object_id, entry.metadata):
            modified.append(name)
        else:
            unchanged.append(name)
    kept = next_snapshot(parent, staged).weight_hashes
    removed = sorted(n for n in base if n not in kept) if not staged.empty else []
    head = parent.commit_hash if parent else None
    return Status(branch, head, added, modified, removed, unchanged, staged.partial)
