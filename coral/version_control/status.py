"""``repo.status()``: what the staging area would change on top of HEAD."""

from __future__ import annotations

from dataclasses import dataclass, field

from coral.version_control.commit import Commit
from coral.version_control.staging import StagedChanges


@dataclass(frozen=True)
class Status:
    """What ``repo.status()`` reports: where HEAD is and what the next commit would change."""

    branch: str | None
    head: str | None
    added: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing is staged."""
        return not (self.added or self.modified or self.removed or self.unchanged)

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
        return "\n".join(lines)


def compute_status(branch: str | None, parent: Commit | None, staged: StagedChanges) -> Status:
    """Classify each staged entry against the parent commit's snapshot."""
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
    removed = sorted(n for n in staged.removed if n in base)
    head = parent.commit_hash if parent else None
    return Status(branch, head, added, modified, removed, unchanged)
