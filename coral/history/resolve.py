"""Turning what a user types into a commit hash.

Accepted, in this order: ``HEAD``; a full commit hash; a branch; a tag (version name or
version_id); a remote-tracking branch (``origin/main``); an abbreviated commit hash of at least
4 hex digits that matches one commit; ``branch@{N}`` (where the branch pointed N moves ago, from
its reflog), ``HEAD@{N}`` (where HEAD was N moves ago, from HEAD's reflog) and ``@{N}`` (the
current branch's, or HEAD's when detached, as in git). Any of them may be followed by git's
relative suffixes: ``~N`` (N first parents back), ``^`` / ``^N`` (the N-th parent of a merge).
"""

from __future__ import annotations

import difflib
import re

from coral.errors import (
    AmbiguousRefError,
    InvalidNameError,
    RefNotFoundError,
    UnbornBranchError,
)
from coral.records.commit import COMMIT_HASH_LENGTH
from coral.records.commits import CommitStore
from coral.records.refnames import check_ref_name
from coral.records.refs import RefStore, reflog_name
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs

MIN_ABBREV = 4
_SUFFIX_RE = re.compile(r"([~^])(\d*)")
_SUFFIXES_RE = re.compile(r"(?:[~^]\d*)*")
_HEX_RE = re.compile(r"[0-9a-f]+")
_REFLOG_RE = re.compile(r"(.*)@\{(\d+)\}")


class RefResolver:
    """Turns what a user types (``main``, ``v1``, ``HEAD~2``, ``main@{1}``, ``origin/main``,
    an abbreviated hash) into a full commit hash, with git's precedence and errors that
    say what was meant."""

    def __init__(
        self,
        refs: RefStore,
        commits: CommitStore,
        versions: VersionStore,
        tracking: TrackingRefs | None = None,
    ) -> None:
        self._refs = refs
        self._commits = commits
        self._versions = versions
        self._tracking = tracking

    def _tracked(self, name: str) -> str | None:
        """``origin/main``: where the remote's branch was at the last push or pull."""
        remote, _, branch = name.partition("/")
        if self._tracking is None or not branch:
            return None
        try:
            commit_hash = self._tracking.get(remote, branch)
        except InvalidNameError:
            return None
        return commit_hash if commit_hash is not None and commit_hash in self._commits else None

    def resolve(self, ref: str) -> str:
        """The full hash of the commit ``ref`` names.

        Raises:
            RefNotFoundError: nothing by that name (the message lists close matches).
            UnbornBranchError: the branch exists only as HEAD's target, with no commit yet.
            AmbiguousRefError: an abbreviated hash matches several commits.
        """
        if not isinstance(ref, str) or not ref.strip():
            raise RefNotFoundError(f"a ref must be a non-empty string, got {ref!r}")
        ref = ref.strip()
        base, suffixes = _split_suffixes(ref)
        commit_hash = self._resolve_base(base)
        for op, count in suffixes:
            commit_hash = self._walk(ref, commit_hash, op, count)
        return commit_hash

    def _resolve_base(self, name: str) -> str:
        at = _REFLOG_RE.fullmatch(name)
        if at is not None:
            return self._from_reflog(at.group(1), int(at.group(2)))
        if name == "HEAD":
            head = self._refs.head()
            if head.commit_hash is None:
                raise UnbornBranchError(
                    f"HEAD is on branch {head.branch!r}, which has no commits yet; "
                    "stage weights and commit first"
                )
            return head.commit_hash
        if len(name) == COMMIT_HASH_LENGTH and name in self._commits:
            return name  # an existing full hash wins over any name, as in git
        if _is_ref_name(name):
            branch = self._refs.read_branch(name)
            if branch is not None:
                return branch.commit_hash
            version = self._versions.by_name(name)
            if version is not None:
                return version.commit_hash
            tracked = self._tracked(name)
            if tracked is not None:
                return tracked
        version_by_id = self._versions.all().get(name)
        if version_by_id is not None:
            return version_by_id.commit_hash
        if _HEX_RE.fullmatch(name) and len(name) >= MIN_ABBREV:
            matches = self._commits.with_prefix(name)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                shown = ", ".join(m[:12] for m in matches[:5])
                raise AmbiguousRefError(
                    f"{name!r} matches {len(matches)} commits ({shown}); type more digits"
                )
        head = self._refs.head()
        if name == head.branch:
            raise UnbornBranchError(f"branch {name!r} has no commits yet")
        raise RefNotFoundError(self._not_found_message(name))

    def _from_reflog(self, name: str, n: int) -> str:
        """``main@{N}``: where ``main`` pointed N moves ago; ``HEAD@{N}``: where HEAD was;
        ``@{N}``: the current branch, or HEAD when detached (git's rule)."""
        if not name:
            name = self._refs.head().branch or "HEAD"
        log = reflog_name(name)  # refuses a bad branch name before anything is read
        if n == 0:
            return self._resolve_base(name)
        moves = list(reversed(self._refs.reflog(log)))
        # Each entry's ``old`` is the position before it; one without (a creation) ends the log.
        back = next((i for i, entry in enumerate(moves) if entry.old is None), len(moves))
        if n > back:
            raise RefNotFoundError(
                f"{name}@{{{n}}}: the reflog of {name!r} goes back only {back} move(s) "
                f"(see repo.reflog({name!r}))"
            )
        return str(moves[n - 1].old)

    def _walk(self, ref: str, commit_hash: str, op: str, count: int) -> str:
        if op == "^":
            if count == 0:
                return commit_hash
            parents = self._commits.get(commit_hash).parent_hashes
            if count > len(parents):
                raise RefNotFoundError(
                    f"{ref!r}: commit {commit_hash[:8]} has {len(parents)} parent(s), not {count}"
                )
            return parents[count - 1]
        for step in range(count):
            parents = self._commits.get(commit_hash).parent_hashes
            if not parents:
                raise RefNotFoundError(
                    f"{ref!r} goes back past the root commit {commit_hash[:8]} "
                    f"(only {step} generation(s) back are available)"
                )
            commit_hash = parents[0]
        return commit_hash

    def _not_found_message(self, name: str) -> str:
        known = ["HEAD"] + [b.name for b in self._refs.list_branches()]
        known += [v.name for v in self._versions.all().values()]
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        return (
            f"{name!r} is not a branch, tag or commit of this repository{hint} "
            "(list them with repo.branch_manager.list_branches() / repo.list_versions())"
        )


def _split_suffixes(ref: str) -> tuple[str, list[tuple[str, int]]]:
    """``"main~2^2"`` -> ``("main", [("~", 2), ("^", 2)])``. Names never contain ``~``/``^``."""
    cut = min((i for i in (ref.find("~"), ref.find("^")) if i >= 0), default=len(ref))
    base, tail = ref[:cut], ref[cut:]
    if not base or not _SUFFIXES_RE.fullmatch(tail):
        raise RefNotFoundError(
            f"{ref!r} is not a valid ref; relative refs look like 'main~2' or 'HEAD^2'"
        )
    suffixes = [
        (m.group(1), int(m.group(2)) if m.group(2) else 1) for m in _SUFFIX_RE.finditer(tail)
    ]
    return base, suffixes


def _is_ref_name(name: str) -> bool:
    try:
        check_ref_name(name)
    except ValueError:
        return False
    return True
