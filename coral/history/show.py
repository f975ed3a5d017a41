"""``repo.show(ref)``: one commit with everything a user asks about it, like ``git show``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coral.records.commit import Commit
from coral.records.merge_record import merge_arguments


@dataclass(frozen=True, repr=False)
class CommitView:
    """A commit, the refs that point at it, what it changed and how it was made.

    Attributes:
        commit: the commit itself.
        branches: branches whose tip it is; ``head`` is True when HEAD points at it.
        tags: tags (versions) on it, with ``metrics`` name -> metrics dict.
        changes: the diff against its first parent (every weight added for a root commit), in
            the format of ``repo.diff``.
        merge: for a merge commit, how it was made: source, base(s), strategy, parameters,
            overrides and how each conflict was resolved (``None`` otherwise).
    """

    commit: Commit
    changes: dict[str, Any]
    branches: list[str] = field(default_factory=list)
    head: bool = False
    tags: list[str] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def merge(self) -> dict[str, Any] | None:
        record = self.commit.metadata.extra.get("merge")
        return dict(record) if isinstance(record, dict) else None

    @property
    def merge_arguments(self) -> dict[str, Any] | None:
        """For a merge commit, ``repo.merge(**view.merge_arguments)`` re-runs it (from the
        same first parent it gives the same weights, bit for bit)."""
        return merge_arguments(self.merge) if self.merge is not None else None

    @property
    def lossy_weights(self) -> list[str]:
        return list(self.commit.metadata.extra.get("lossy_weights", []))

    def __repr__(self) -> str:
        return str(self)

    def __str__(self) -> str:
        c, meta = self.commit, self.commit.metadata
        refs = (["HEAD"] if self.head else []) + self.branches + [f"tag: {t}" for t in self.tags]
        lines = [f"commit {c.commit_hash}" + (f" ({', '.join(refs)})" if refs else "")]
        if c.is_merge_commit:
            lines.append("Merge: " + " ".join(p[:8] for p in c.parent_hashes))
        lines += [f"Author: {meta.author} <{meta.email}>", f"Date:   {meta.timestamp.isoformat()}"]
        lines += [""] + [f"    {line}" for line in meta.message.splitlines() or [""]] + [""]
        if self.merge is not None:
            lines.append(_describe_merge(self.merge))
        for tag in self.tags:
            if self.metrics.get(tag):
                shown = ", ".join(f"{k}={v:g}" for k, v in self.metrics[tag].items())
                lines.append(f"tag {tag}: {shown}")
        if self.lossy_weights:
            lines.append(f"lossy (int8-rounded) weights: {', '.join(self.lossy_weights)}")
        summary = self.changes["summary"]
        lines.append(
            f"{len(c.weight_hashes)} weights: {summary['total_added']} added, "
            f"{summary['total_modified']} modified, {summary['total_removed']} removed"
        )
        lines += [f"  + {n}" for n in self.changes["added"]]
        lines += [f"  M {n}" for n in self.changes["modified"]]
        lines += [f"  - {n}" for n in self.changes["removed"]]
        return "\n".join(lines)


def _describe_merge(record: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in record.get("params", {}).items())
    strategy = record.get("strategy", "?") + (f" ({params})" if params else "")
    bases = record.get("bases") or ([record["base"]] if record.get("base") else [])
    against = "base " + "+".join(b[:8] for b in bases) if bases else "no common base"
    lines = [
        f"Merged {record.get('source')} ({str(record.get('source_commit'))[:8]}) against "
        f"{against}, strategy {strategy}"
    ]
    for pattern, spec in record.get("overrides", {}).items():
        lines.append(f"  override {pattern}: {spec.get('strategy')} {spec.get('params', '')}")
    resolved = record.get("resolved", {})
    if resolved:
        lines.append(f"  {len(resolved)} conflict(s) resolved:")
        lines += [f"    {name}: {how}" for name, how in resolved.items()]
    return "\n".join(lines)
