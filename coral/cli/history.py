"""``coral log``: git's long and ``--oneline`` formats, and ``--graph`` lanes drawn from the
same layout as every other view (``graph_layout.py``)."""

from __future__ import annotations

from coral.cli.output import Output
from coral.history.graph_layout import GraphRow, layout, topological_newest_first
from coral.version_control import Commit, Repository


def _decorate(out: Output, labels: list[str]) -> str:
    if not labels:
        return ""
    return (
        " ("
        + ", ".join(out.paint(x, "green" if "tag:" not in x else "yellow") for x in labels)
        + ")"
    )


def _lanes(row: GraphRow) -> str:
    """One row's lanes: '*' for the commit, '|' for lines passing or leaving."""
    busy = {lane for lane, _ in row.incoming} | set(row.outgoing)
    cells = ["*" if i == row.lane else ("|" if i in busy else " ") for i in range(row.width)]
    return " ".join(cells)


def print_log(
    out: Output,
    repo: Repository,
    commits: list[Commit],
    *,
    oneline: bool,
    graph: bool,
) -> None:
    labels = repo.ref_labels()
    rows = layout(topological_newest_first(commits)) if graph else None
    ordered = [r.commit for r in rows] if rows is not None else commits
    prefixes = [_lanes(r) + " " for r in rows] if rows is not None else [""] * len(ordered)
    for prefix, commit in zip(prefixes, ordered, strict=True):
        decoration = _decorate(out, labels.get(commit.commit_hash, []))
        meta = commit.metadata
        if oneline:
            subject = meta.message.splitlines()[0] if meta.message else ""
            out.line(f"{prefix}{out.paint(commit.short_hash, 'yellow')}{decoration} {subject}")
            continue
        out.line(f"{prefix}{out.paint('commit ' + commit.commit_hash, 'yellow')}{decoration}")
        pad = prefix.replace("*", "|")
        if commit.is_merge_commit:
            out.line(f"{pad}Merge: {' '.join(p[:8] for p in commit.parent_hashes)}")
        author = f"{meta.author} <{meta.email}>" if meta.email else meta.author
        out.line(f"{pad}Author: {author}")
        out.line(f"{pad}Date:   {meta.timestamp.isoformat(sep=' ', timespec='seconds')}")
        out.line(pad)
        for text in (meta.message or "").splitlines() or [""]:
            out.line(f"{pad}    {text}")
        out.line(pad)
