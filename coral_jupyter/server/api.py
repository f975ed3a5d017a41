"""What the sidebar's HTTP API returns, as plain JSON-ready dicts built from the public
``Repository`` API. No Tornado here: the handlers only route, check paths and map errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from coral import __version__
from coral.errors import InvalidValueError, NotARepositoryError
from coral.history.graph_layout import layout, topological_newest_first
from coral.version_control import Commit, Repository

MAX_PAGE = 500


def version() -> dict[str, str]:
    return {"version": __version__}


def open_repository(directory: Path, root: Path) -> Repository | None:
    """The repository at or above ``directory`` but not above ``root``, or None. Nothing
    outside the root is opened (opening a repository may create its missing directories)."""
    here, root = directory.resolve(), root.resolve()
    for candidate in (here, *here.parents):
        if (candidate / ".coral").is_dir():
            try:
                return Repository(candidate)
            except NotARepositoryError:
                return None
        if candidate == root:
            break
    return None


def summary(repo: Repository | None, directory: Path, root: Path) -> dict[str, Any]:
    if repo is None:
        return {"found": False, "directory": relative(directory, root)}
    head = repo.head
    status = repo.status()
    branch_list, tag_list = branches(repo), tags(repo)
    staged = {
        "added": len(status.added),
        "modified": len(status.modified),
        "removed": len(status.removed),
    }
    return {
        "found": True,
        "directory": relative(directory, root),
        "root": relative(repo.path, root),
        "branch": head.branch,
        "head": head.commit_hash,
        "head_message": repo.get_commit(head.commit_hash).metadata.message
        if head.commit_hash
        else None,
        "branches": len(branch_list),
        "tags": len(tag_list),
        "staged": staged,
        "state": _state_token(head.commit_hash, head.branch, branch_list, tag_list, staged),
    }


def _state_token(*parts: Any) -> str:
    """A digest of everything the sidebar shows: it polls the summary and reloads the rest
    only when this changes (a commit, checkout, branch or tag made from a kernel or a shell)."""
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def branches(repo: Repository) -> list[dict[str, Any]]:
    current = repo.current_branch
    return [
        {
            "name": b.name,
            "commit": b.commit_hash,
            "current": b.name == current,
            "parent_branch": b.parent_branch,
        }
        for b in repo.branch_manager.list_branches()
    ]


def tags(repo: Repository) -> list[dict[str, Any]]:
    return [
        {
            "name": v.name,
            "commit": v.commit_hash,
            "description": v.description,
            "metrics": dict(v.metrics or {}),
            "created_at": v.created_at.isoformat() if v.created_at else None,
        }
        for v in repo.list_versions()
    ]


def commits(repo: Repository, offset: int, limit: int) -> dict[str, Any]:
    """A page of the whole history (every branch and tag), newest first, with graph lanes."""
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidValueError(f"offset must be >= 0 and limit between 1 and {MAX_PAGE}")
    starts = repo.ref_tips()
    ordered = topological_newest_first(repo.version_graph.walk(starts)) if starts else []
    rows = layout(ordered)  # lanes need the whole history above a page to be right
    labels = repo.ref_labels()
    page = rows[offset : offset + limit]
    return {
        "total": len(rows),
        "offset": offset,
        "commits": [
            {
                **_commit_line(r.commit),
                "lane": r.lane,
                "incoming": [[lane, ends] for lane, ends in r.incoming],
                "outgoing": list(r.outgoing),
                "width": r.width,
                "refs": labels.get(r.commit.commit_hash, []),
            }
            for r in page
        ],
    }


def commit_details(repo: Repository, ref: str) -> dict[str, Any]:
    view = repo.show(ref)
    c = view.commit
    shapes = {
        n: {"shape": list(m.shape), "dtype": str(m.dtype)} for n, m in c.weight_metadata.items()
    }
    return {
        **_commit_line(c),
        "email": c.metadata.email,
        "branches": view.branches,
        "tags": view.tags,
        "metrics": view.metrics,
        "commit_metrics": dict(c.metadata.extra.get("metrics", {})),
        "merge": view.merge,
        "changes": {
            "added": view.changes["added"],
            "removed": view.changes["removed"],
            "modified": sorted(view.changes["modified"]),
            "summary": view.changes["summary"],
        },
        "weights": shapes,
    }


def diff(repo: Repository, a: str, b: str) -> dict[str, Any]:
    result = repo.diff(a, b)
    return {
        "from": repo.resolve_ref(a),
        "to": repo.resolve_ref(b),
        "added": result["added"],
        "removed": result["removed"],
        "modified": sorted(result["modified"]),
        "summary": result["summary"],
    }


def _commit_line(c: Commit) -> dict[str, Any]:
    meta = c.metadata
    return {
        "hash": c.commit_hash,
        "short": c.short_hash,
        "message": meta.message,
        "author": meta.author,
        "time": meta.timestamp.isoformat(),
        "parents": list(c.parent_hashes),
        "merge": c.is_merge_commit,
    }


def relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root``, POSIX style ("" for the root itself)."""
    relative = path.resolve().relative_to(root.resolve()).as_posix()
    return "" if relative == "." else relative
