"""``repo.blame(ref)``: for each tensor, the commit that last changed it, and by how much.

Like ``git blame --first-parent``: the history is walked along first parents, so a tensor
that a merge brought in is blamed on the merge commit (its message and recorded strategy say
where it came from).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from coral.records.commit import Commit


@dataclass(frozen=True)
class BlameEntry:
    """Who last changed one tensor.

    Attributes:
        name: the tensor.
        commit_hash, message, author, timestamp: the commit that gave it its current value.
        previous: the object the tensor held before that commit (None: the commit added it).
        relative_change: ``||new - old|| / ||old||`` at that commit (None when added, not
            numeric, or not computed).
    """

    name: str
    commit_hash: str
    message: str
    author: str
    timestamp: datetime
    previous: str | None
    relative_change: float | None

    def __str__(self) -> str:
        change = (
            "added"
            if self.previous is None
            else (
                f"changed by {self.relative_change:.3g}"
                if self.relative_change is not None
                else "changed"
            )
        )
        subject = self.message.splitlines()[0] if self.message else ""
        return f"{self.commit_hash[:8]} {self.author:<16.16} {change:<22} {self.name}  ({subject})"


def blame(
    start: Commit,
    parent_of: Callable[[Commit], Commit | None],
    read: Callable[[str], np.ndarray] | None,
) -> dict[str, BlameEntry]:
    """Blame every tensor of ``start``; ``read`` (object id -> array) computes the change
    sizes (None: skip them)."""
    pending = dict(start.weight_hashes)  # name -> object id still being traced back
    found: dict[str, BlameEntry] = {}
    commit: Commit | None = start
    while pending and commit is not None:
        parent = parent_of(commit)
        before = parent.weight_hashes if parent is not None else {}
        for name in [n for n, oid in pending.items() if before.get(n) != oid]:
            previous = before.get(name)
            found[name] = BlameEntry(
                name=name,
                commit_hash=commit.commit_hash,
                message=commit.metadata.message,
                author=commit.metadata.author,
                timestamp=commit.metadata.timestamp,
                previous=previous,
                relative_change=_change(read, previous, pending[name]),
            )
            del pending[name]
        commit = parent
    return dict(sorted(found.items()))


def _change(read: Callable[[str], np.ndarray] | None, old: str | None, new: str) -> float | None:
    if read is None or old is None:
        return None
    a, b = read(old), read(new)
    if a.shape != b.shape or a.dtype.kind == "b" or b.dtype.kind == "b":
        return None
    try:
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
    except (TypeError, ValueError):
        return None
    norm = float(np.linalg.norm(a64))
    delta = float(np.linalg.norm(b64 - a64))
    if not norm:  # relative to zero is undefined (a zero-initialised bias, say)
        return 0.0 if delta == 0 else None
    return delta / norm
