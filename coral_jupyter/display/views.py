"""Rich displays of Coral objects: HTML for notebooks, text everywhere else.

The functions named ``*_html`` render Coral's own objects (registered with IPython's display
formatters by :mod:`coral_jupyter.display.formatters`); the ``*View`` classes wrap what the
``Repository`` API returns as plain lists and dicts (``log``, ``diff``, branches, tags) so they
display too. Nothing here changes a repository.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coral.core.sizes import human_bytes
from coral.history.graph_layout import GraphRow, layout, topological_newest_first
from coral.version_control import Branch, Commit, CommitView, MergePlan, Repository, Status, Version
from coral.workspace.status import removal_summary
from coral_jupyter.display.html import (
    badge,
    bar,
    block,
    esc,
    graph_cell,
    mono,
    paragraph,
    short_hash,
    table,
    when,
)

# --- Coral's own objects ---


def repository_html(repo: Repository) -> str:
    summary = RepositorySummary.of(repo)
    return summary._repr_html_()


def commit_html(commit: Commit, *notes: str) -> str:
    """A commit's table, with ``notes`` (HTML) below it in the same box."""
    meta = commit.metadata
    rows = [
        ("commit", short_hash(commit.commit_hash)),
        ("message", esc(meta.message)),
        ("author", esc(f"{meta.author} <{meta.email}>")),
        ("date", when(meta.timestamp)),
        ("parents", " ".join(short_hash(p) for p in commit.parent_hashes) or "<i>root</i>"),
        ("weights", str(len(commit.weight_hashes))),
    ]
    if commit.delta_weights:
        rows.append(("stored as deltas", str(len(commit.delta_weights))))
    if meta.tags:
        rows.append(("labels", "".join(badge(t, "#7f7f7f") for t in meta.tags)))
    if "merge" in meta.extra:
        rows.append(("merge", esc(_merge_line(meta.extra["merge"]))))
    title = "Merge commit" if commit.is_merge_commit else "Commit"
    return block(title, table(["", ""], rows), *notes)


def commit_view_html(view: CommitView) -> str:
    refs = (["HEAD"] if view.head else []) + view.branches
    parts = [commit_html(view.commit)]
    if refs or view.tags:
        parts.append(
            paragraph(
                "".join(badge(r) for r in refs)
                + "".join(badge(f"tag: {t}", "#2ca02c") for t in view.tags)
            )
        )
    for tag in view.tags:
        if view.metrics.get(tag):
            parts.append(paragraph(f"{esc(tag)}: " + _metrics(view.metrics[tag])))
    if view.merge is not None and view.merge.get("resolved"):
        resolved = view.merge["resolved"]
        parts.append(
            block(
                f"{len(resolved)} conflict(s) resolved",
                table(["weight", "how"], [(mono(n), esc(h)) for n, h in resolved.items()]),
            )
        )
    parts.append(
        DiffView(view.changes, "first parent", "this commit", shapes_of(view.commit))._repr_html_()
    )
    return "".join(parts)


def status_html(status: Status) -> str:
    where = (
        f"On branch {badge(status.branch)}" if status.branch else "HEAD detached at "
    ) + short_hash(status.head)
    rows = [
        (badge(kind, color), mono(name))
        for kind, color, names in (
            ("new", "#2ca02c", status.added),
            ("modified", "#ff7f0e", status.modified),
            ("removed", "#d62728", status.removed),
        )
        for name in names
    ]
    body = table(["", "staged weight"], rows) if rows else paragraph("nothing staged")
    notes = [paragraph(esc(f"The next commit {status.removal_summary}."))] if status.removed else []
    if status.partial:
        notes.append(paragraph("Partial update: HEAD's weights that were not staged are kept."))
    return block("Status", paragraph(where), body, *notes)


def version_html(version: Version) -> str:
    return VersionList([version])._repr_html_()


def merge_plan_html(plan: MergePlan) -> str:
    return MergeOutcome(plan, None)._repr_html_()


# --- wrappers for plain lists and dicts ---


@dataclass(frozen=True)
class RepositorySummary:
    """What ``%coral open`` shows: where the repository is, HEAD, counts, storage saved."""

    path: str
    branch: str | None
    head: Commit | None
    commits: int
    branches: int
    tags: int
    raw_bytes: int
    stored_bytes: int

    @classmethod
    def of(cls, repo: Repository) -> RepositorySummary:
        head = repo.head.commit_hash
        raw = stored = 0
        for oid in repo.store.object_ids():
            info = repo.store.info(oid)
            raw += info.raw_nbytes
            stored += info.stored_nbytes
        return cls(
            path=str(repo.path),
            branch=repo.current_branch,
            head=repo.get_commit(head) if head else None,
            commits=len(repo.version_graph.commits()),
            branches=len(repo.branch_manager.list_branches()),
            tags=len(repo.list_versions()),
            raw_bytes=raw,
            stored_bytes=stored,
        )

    @property
    def saved(self) -> float:
        return 1 - self.stored_bytes / self.raw_bytes if self.raw_bytes else 0.0

    def __repr__(self) -> str:
        head = f"{self.head.short_hash} {self.head.metadata.message!r}" if self.head else "none"
        return (
            f"Coral repository {self.path}: branch {self.branch or '(detached)'}, HEAD {head}; "
            f"{self.commits} commits, {self.branches} branches, {self.tags} tags; "
            f"{human_bytes(self.stored_bytes)} stored for {human_bytes(self.raw_bytes)} of "
            f"tensors ({self.saved:.0%} saved)"
        )

    def _repr_html_(self) -> str:
        head = (
            f"{short_hash(self.head.commit_hash)} {esc(self.head.metadata.message)}"
            if self.head
            else "<i>no commits yet</i>"
        )
        rows = [
            ("path", mono(self.path)),
            ("branch", badge(self.branch) if self.branch else "<i>detached</i>"),
            ("HEAD", head),
            ("history", f"{self.commits} commits, {self.branches} branches, {self.tags} tags"),
            (
                "storage",
                f"{esc(human_bytes(self.stored_bytes))} stored for "
                f"{esc(human_bytes(self.raw_bytes))} of tensors "
                f"{bar(self.saved, '#2ca02c')} {self.saved:.0%} saved",
            ),
        ]
        return block("Coral repository", table(["", ""], rows))


@dataclass(frozen=True)
class LogView:
    """``repo.log`` as a table, newest first, with the commit graph drawn in the first column."""

    commits: Sequence[Commit]
    refs: Mapping[str, list[str]] = field(default_factory=dict)  # hash -> branch/tag labels
    graph: bool = True

    def _rows(self) -> list[GraphRow]:
        return layout(topological_newest_first(self.commits))

    def __repr__(self) -> str:
        lines = []
        for row in self._rows():
            lane = "| " * row.lane + "*"
            labels = ", ".join(self.refs.get(row.commit.commit_hash, []))
            labels = f" ({labels})" if labels else ""
            first = (
                row.commit.metadata.message.splitlines()[0] if row.commit.metadata.message else ""
            )
            lines.append(f"{lane:8s} {row.commit.short_hash}{labels} {first}")
        return "\n".join(lines) or "no commits"

    def _repr_html_(self) -> str:
        rows = self._rows()
        width = max((r.width for r in rows), default=1)
        cells = []
        for row in rows:
            c = row.commit
            labels = "".join(
                badge(label, "#2ca02c" if label.startswith("tag: ") else "#1f77b4")
                for label in self.refs.get(c.commit_hash, [])
            )
            cells.append(
                ([graph_cell(row, width)] if self.graph else [])
                + [
                    short_hash(c.commit_hash),
                    labels + esc(c.metadata.message.splitlines()[0] if c.metadata.message else ""),
                    esc(c.metadata.author),
                    when(c.metadata.timestamp),
                    str(len(c.weight_hashes)),
                ]
            )
        headers = (["graph"] if self.graph else []) + [
            "commit",
            "message",
            "author",
            "date",
            "weights",
        ]
        return block(
            f"{len(rows)} commit(s)", table(headers, cells, flush_column=0 if self.graph else None)
        )


@dataclass(frozen=True)
class DiffView:
    """``repo.diff`` as tables: added, removed, and modified weights with change statistics."""

    diff: Mapping[str, Any]
    from_label: str
    to_label: str
    shapes: Mapping[str, str] = field(default_factory=dict)  # name -> "float32[64, 48]"

    def __repr__(self) -> str:
        s = self.diff["summary"]
        lines = [
            f"{self.from_label} -> {self.to_label}: {s['total_added']} added, "
            f"{s['total_removed']} removed, {s['total_modified']} modified, "
            f"{s['total_unchanged']} unchanged"
        ]
        lines += [f"  + {n}" for n in self.diff["added"]]
        lines += [f"  - {n}" for n in self.diff["removed"]]
        for name, entry in self.diff["modified"].items():
            stats = entry.get("stats")
            extra = f"  relative change {stats['relative_l2']:.3g}" if stats else ""
            lines.append(f"  M {name}{extra}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        s = self.diff["summary"]
        parts = [
            paragraph(
                f"{esc(self.from_label)} &rarr; {esc(self.to_label)}: "
                f"{badge(str(s['total_added']) + ' added', '#2ca02c')}"
                f"{badge(str(s['total_removed']) + ' removed', '#d62728')}"
                f"{badge(str(s['total_modified']) + ' modified', '#ff7f0e')}"
                f"{s['total_unchanged']} unchanged"
            )
        ]

        def shape(name: str) -> str:
            return esc(self.shapes.get(name, ""))

        rows = [
            (badge("added", "#2ca02c"), mono(n), shape(n), "", "", "", "")
            for n in self.diff["added"]
        ]
        rows += [
            (badge("removed", "#d62728"), mono(n), shape(n), "", "", "", "")
            for n in self.diff["removed"]
        ]
        for name, entry in self.diff["modified"].items():
            stats = entry.get("stats") or {}
            rel = stats.get("relative_l2")
            rows.append(
                (
                    badge("modified", "#ff7f0e"),
                    mono(name),
                    shape(name),
                    (f"{bar(min(1.0, rel * 10), '#ff7f0e')} {rel:.3g}" if rel is not None else ""),
                    _num(stats.get("cosine_similarity")),
                    _num(stats.get("max_abs_diff")),
                    _num(stats.get("fraction_changed")),
                )
            )
        if rows:
            parts.append(
                table(
                    ["", "weight", "shape", "relative change", "cosine", "max |Δ|", "changed"],
                    rows,
                )
            )
        return block("Diff", *parts)


@dataclass(frozen=True)
class BranchList:
    """The branches ``%coral branch`` lists, the current one marked."""

    branches: Sequence[Branch]
    current: str | None

    def __repr__(self) -> str:
        return (
            "\n".join(
                f"{'*' if b.name == self.current else ' '} {b.name} {b.commit_hash[:8]}"
                for b in self.branches
            )
            or "no branches yet"
        )

    def _repr_html_(self) -> str:
        rows = [
            (
                badge("current") if b.name == self.current else "",
                mono(b.name),
                short_hash(b.commit_hash),
                esc(b.parent_branch or ""),
            )
            for b in self.branches
        ]
        return block(f"{len(rows)} branch(es)", table(["", "branch", "at", "from"], rows))


@dataclass(frozen=True)
class VersionList:
    """The tags ``%coral tag`` lists, with their descriptions and metrics."""

    versions: Sequence[Version]

    def __repr__(self) -> str:
        lines = [
            f"{v.name} {v.commit_hash[:8]} {v.description or ''} {dict(v.metrics or {})}"
            for v in self.versions
        ]
        return "\n".join(line.rstrip() for line in lines) or "no tags yet"

    def _repr_html_(self) -> str:
        rows = [
            (
                badge(v.name, "#2ca02c"),
                short_hash(v.commit_hash),
                esc(v.description or ""),
                _metrics(v.metrics or {}),
                when(v.created_at),
            )
            for v in self.versions
        ]
        return block(
            f"{len(rows)} tag(s)",
            table(["tag", "commit", "description", "metrics", "created"], rows),
        )


@dataclass(frozen=True)
class MergeOutcome:
    """A merge plan (dry run) or a merge's result: what happened to every weight."""

    plan: MergePlan
    commit: Commit | None

    def __repr__(self) -> str:
        head = f"\n-> {self.commit!r}" if self.commit is not None else " (dry run: nothing written)"
        return f"{self.plan}{head}"

    def _repr_html_(self) -> str:
        p = self.plan
        title = {
            "up-to-date": "Already up to date",
            "fast-forward": "Fast-forward",
            "merge": "Merge"
            if self.commit is not None
            else "Merge plan (dry run, nothing written)",
        }[p.kind]
        strategy = p.resolution.strategy.value
        params = ", ".join(f"{k}={v}" for k, v in p.resolution.params.items())
        parts = [
            paragraph(
                f"{esc(p.source)} {short_hash(p.theirs)} into {short_hash(p.ours)}"
                + (f", base {' + '.join(short_hash(b) for b in p.bases)}" if p.bases else "")
                + f", strategy {mono(strategy)}"
                + (f" ({esc(params)})" if params else "")
            )
        ]
        if p.tensors:
            counts = ", ".join(f"{n} {esc(k)}" for k, n in sorted(p.counts().items()))
            parts.append(paragraph(counts))
            rows = [
                (
                    mono(t.name),
                    badge(t.outcome, _OUTCOME_COLORS.get(t.outcome, "#7f7f7f")),
                    esc(t.reason),
                    badge("conflict", "#d62728") if t.conflict else "",
                    esc(t.error or t.strategy or ""),
                )
                for t in p.tensors
            ]
            parts.append(table(["weight", "result", "why", "", "resolution"], rows))
        if self.commit is not None:
            parts.append(commit_html(self.commit))
        return block(title, *parts)


@dataclass(frozen=True)
class CommitOutcome:
    """A commit just made, with the weights of its parent it left out (git's
    ``[main 1a2b3c4d] message`` line, plus what the snapshot removed)."""

    commit: Commit
    removed: list[str] = field(default_factory=list)
    branch: str | None = None

    @classmethod
    def of(cls, repo: Repository, commit: Commit, branch: str | None = None) -> CommitOutcome:
        """``commit`` as made on ``branch`` (default: HEAD's; a run's commit names its own)."""
        parent = repo.get_commit(commit.parent_hashes[0]) if commit.parent_hashes else None
        removed = sorted(set(parent.weight_hashes) - set(commit.weight_hashes)) if parent else []
        return cls(commit, removed, branch or repo.current_branch)

    @property
    def removal_summary(self) -> str | None:
        return removal_summary(self.removed, "removed")

    def __repr__(self) -> str:
        where = self.branch or "detached HEAD"
        lines = [f"[{where} {self.commit.short_hash}] {self.commit.metadata.message}"]
        lines.append(f" {len(self.commit.weight_hashes)} weights")
        if self.removal_summary:
            lines.append(f" {self.removal_summary}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.removal_summary:
            return commit_html(self.commit)
        note = paragraph(f"{badge('removed', '#d62728')} " + esc(self.removal_summary))
        return commit_html(self.commit, note)


@dataclass(frozen=True)
class Notice:
    """A one-line confirmation (``Created branch 'x' at 1a2b3c4d``)."""

    text: str

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return paragraph(esc(self.text))


_OUTCOME_COLORS = {
    "ours": "#1f77b4",
    "theirs": "#9467bd",
    "merged": "#ff7f0e",
    "deleted": "#d62728",
}


def shapes_of(*commits: Commit) -> dict[str, str]:
    """name -> "dtype[shape]" for the weights of ``commits`` (later ones win)."""
    out: dict[str, str] = {}
    for commit in commits:
        for name, meta in commit.weight_metadata.items():
            out[name] = f"{meta.dtype}{list(meta.shape)}"
    return out


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _metrics(metrics: Mapping[str, float]) -> str:
    return " ".join(f"{mono(k)}={esc(f'{v:g}')}" for k, v in metrics.items())


def _merge_line(record: Mapping[str, Any]) -> str:
    params = ", ".join(f"{k}={v}" for k, v in record.get("params", {}).items())
    return f"{record.get('source')} via {record.get('strategy')}" + (
        f" ({params})" if params else ""
    )
