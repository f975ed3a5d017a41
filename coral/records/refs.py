"""HEAD, branch refs and their reflogs (plumbing).

``HEAD`` holds ``ref: refs/heads/<branch>`` or, detached, a commit hash. Each branch is a JSON
record ``refs/heads/<name>`` (``{name, commit_hash, parent_branch}``); names with ``/`` become
sub-directories on disk, as in git. Every update is a compare-and-swap under the repository lock
and is appended to ``logs/`` (the reflog), so a moved or deleted branch can always be traced.

``logs/HEAD`` is HEAD's own reflog, kept as git keeps it: one entry per move of HEAD, whether
its branch moved (commit, merge, reset, pull: :meth:`RefStore.write_branch` logs both) or HEAD
itself did (a detached commit, a checkout: logged by whoever writes ``HEAD``). Nothing else goes
there, so ``HEAD@{N}`` is where HEAD was N moves ago, and work done on a detached HEAD stays
findable after a checkout leaves it.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coral.errors import (
    ConcurrentUpdateError,
    InvalidNameError,
    RefExistsError,
    RepositoryFormatError,
)
from coral.records.backend import KeyClashError, RecordBackend, RecordLock
from coral.records.commit import is_commit_hash, now_utc
from coral.records.keys import HEAD, HEAD_REF_PREFIX, HEADS, LOGS
from coral.records.refnames import check_ref_name
from coral.storage.fsutil import dumps_json, loads_json

__all__ = ["HEAD_REF_PREFIX", "Branch", "Head", "RefStore", "ReflogEntry", "reflog_name"]

_MAX_HEAD_BYTES = 4096  # a branch name is at most a few hundred bytes


@dataclass(frozen=True)
class Branch:
    """A named, movable pointer to a commit."""

    name: str
    commit_hash: str
    parent_branch: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "commit_hash": self.commit_hash,
            "parent_branch": self.parent_branch,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Branch:
        return cls(data["name"], data["commit_hash"], data.get("parent_branch"))


@dataclass(frozen=True)
class Head:
    """Where HEAD points: a branch (possibly without commits yet) or, detached, a commit."""

    branch: str | None
    commit_hash: str | None

    @property
    def detached(self) -> bool:
        return self.branch is None


@dataclass(frozen=True)
class ReflogEntry:
    """One move of a ref: from ``old`` to ``new`` (None: absent), by whom, when and why."""

    old: str | None
    new: str | None
    who: str
    time: str
    message: str


class RefStore:
    """HEAD, the branches and their reflogs, over a :class:`RecordBackend`.

    Every change is made under ``lock``; a branch moves by compare-and-swap of its old value.
    """

    def __init__(self, records: RecordBackend, lock: RecordLock) -> None:
        self.records = records
        self.lock = lock

    # --- HEAD ---

    def head(self) -> Head:
        where = self.records.describe(HEAD)
        fix = "rewrite it as 'ref: refs/heads/main'"
        try:
            raw = self.records.read(HEAD, max_bytes=_MAX_HEAD_BYTES)
        except ValueError as err:
            raise RepositoryFormatError(f"{where} is unreadable ({err}); {fix}") from None
        if raw is None:
            raise RepositoryFormatError(
                f"{where} is missing; restore it with the text 'ref: refs/heads/main'"
            )
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise RepositoryFormatError(f"{where} is not text; {fix}") from None
        if text.startswith(HEAD_REF_PREFIX):
            name = text[len(HEAD_REF_PREFIX) :]
            try:
                check_ref_name(name)
            except InvalidNameError as err:
                raise RepositoryFormatError(
                    f"{where} names no valid branch ({err}); {fix}"
                ) from None
            branch = self.read_branch(name)
            return Head(name, branch.commit_hash if branch else None)
        if is_commit_hash(text):
            return Head(None, text)
        raise RepositoryFormatError(
            f"{where} holds {text[:60]!r}, which is neither a branch ref nor a commit hash; {fix}"
        )

    def set_head_branch(self, name: str) -> None:
        check_ref_name(name)
        self._write_head(HEAD_REF_PREFIX + name)

    def set_head_detached(self, commit_hash: str) -> None:
        self._write_head(commit_hash)

    def _write_head(self, text: str) -> None:
        # No trailing newline: a plain f.read() of HEAD gives the ref or commit hash exactly.
        self.records.write(HEAD, text.encode())

    # --- branches ---

    @staticmethod
    def _branch_key(name: str) -> str:
        return f"{HEADS}/{check_ref_name(name)}"

    def _load_branch(self, name: str) -> tuple[bytes | None, Branch | None]:
        """The branch record as stored (what a compare-and-swap compares) and parsed."""
        key = self._branch_key(name)
        try:
            raw = self.records.read(key)
            if raw is None:
                return None, None
            branch = Branch.from_dict(loads_json(raw))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            where = self.records.describe(key)
            raise RepositoryFormatError(f"branch file {where} is unreadable: {err}") from err
        if not is_commit_hash(branch.commit_hash):
            where = self.records.describe(key)
            raise RepositoryFormatError(f"branch file {where} does not hold a commit hash")
        return raw, branch

    def read_branch(self, name: str) -> Branch | None:
        return self._load_branch(name)[1]

    def branch_names(self) -> list[str]:
        """Names of all branches, without reading them (fsck reads them one by one)."""
        names = []
        for key in self.records.list(HEADS):
            try:
                names.append(check_ref_name(key[len(HEADS) + 1 :]))
            except InvalidNameError:
                continue
        return names

    def list_branches(self) -> list[Branch]:
        branches = (self.read_branch(name) for name in self.branch_names())
        return [b for b in branches if b is not None]

    def write_branch(self, branch: Branch, *, expected: str | None, who: str, message: str) -> None:
        """Create or move a branch, if it currently points at ``expected`` (None: absent)."""
        if not is_commit_hash(branch.commit_hash):
            raise ValueError(f"{branch.commit_hash!r} is not a full commit hash")
        with self.lock.hold():
            raw, current = self._load_branch(branch.name)
            current_hash = current.commit_hash if current else None
            if current_hash != expected:
                if expected is None:
                    raise RefExistsError(f"branch {branch.name!r} already exists")
                raise ConcurrentUpdateError(
                    f"branch {branch.name!r} moved to {str(current_hash)[:8]} while this "
                    f"operation expected {expected[:8]}; retry it"
                )
            self._check_no_path_conflict(branch.name)
            self.records.write_if(
                self._branch_key(branch.name), dumps_json(branch.to_dict()), expected=raw
            )
            self.append_reflog(
                f"refs/heads/{branch.name}", current_hash, branch.commit_hash, who, message
            )
            if self._head_is_on(branch.name):  # HEAD moved with its branch
                self.append_reflog("HEAD", current_hash, branch.commit_hash, who, message)

    def _head_is_on(self, name: str) -> bool:
        """Whether HEAD is attached to branch ``name`` (a damaged HEAD is on none: the branch
        has moved already, and fsck reports the damage)."""
        try:
            return self.head().branch == name
        except RepositoryFormatError:
            return False

    def delete_branch(self, name: str, *, who: str) -> Branch:
        """Delete a branch and its reflog, as git does. HEAD does not move, so nothing is
        logged (``who`` is unused); the tip stays in HEAD's reflog if HEAD was ever on it."""
        with self.lock.hold():
            branch = self.read_branch(name)
            if branch is None:
                raise ConcurrentUpdateError(f"branch {name!r} disappeared; nothing deleted")
            self.records.delete(self._branch_key(name))
            self.delete_reflog(f"refs/heads/{name}")
            return branch

    def _check_no_path_conflict(self, name: str) -> None:
        """git's D/F rule: 'feature' and 'feature/x' cannot both be branches."""
        inside = self.records.list(self._branch_key(name))
        if inside:
            raise RefExistsError(
                f"cannot create branch {name!r}: branch {inside[0][len(HEADS) + 1 :]!r} "
                "exists, and a name cannot be both a branch and a folder of branches"
            )
        parts = name.split("/")
        for ancestor in ("/".join(parts[:i]) for i in range(1, len(parts))):
            if self.records.stat(f"{HEADS}/{ancestor}") is not None:
                raise RefExistsError(f"cannot create branch {name!r}: branch {ancestor!r} exists")

    # --- reflog ---

    def append_reflog(
        self, ref: str, old: str | None, new: str | None, who: str, message: str
    ) -> None:
        """Append one entry. Best effort: the ref has already moved when this runs, so a
        reflog that cannot be written (disk full, a stray file) warns instead of failing."""
        entry = {
            "old": old,
            "new": new,
            "who": who,
            "time": now_utc().isoformat(),
            "message": message,
        }
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode()
        key = f"{LOGS}/{ref}"
        try:
            self.records.append(key, line)
        except (OSError, KeyClashError) as err:
            where = self.records.describe(key)
            warnings.warn(f"could not append to the reflog {where}: {err}", stacklevel=3)

    def delete_reflog(self, ref: str) -> None:
        """Forget a deleted branch's reflog (as git does); HEAD's reflog keeps its commits."""
        self.records.delete(f"{LOGS}/{ref}")

    def reflog(self, ref: str) -> list[ReflogEntry]:
        """Entries oldest first; a line torn by a crash is skipped."""
        raw = self.records.read(f"{LOGS}/{ref}", max_bytes=None)
        if raw is None:
            return []
        return [e for e in map(_parse_reflog_line, raw.splitlines()) if e is not None]

    def expire_reflog(self, ref: str, expired: Callable[[ReflogEntry], bool]) -> int:
        """Drop the entries ``expired`` selects (gc, holding the lock); returns how many."""
        key = f"{LOGS}/{ref}"
        with self.lock.hold():
            raw = self.records.read(key, max_bytes=None)
            if raw is None:
                return 0
            lines = raw.splitlines(keepends=True)
            kept = [line for line in lines if (e := _parse_reflog_line(line)) and not expired(e)]
            dropped = len(lines) - len(kept)
            if dropped:
                self.records.write(key, b"".join(kept))
            return dropped

    def last_checked_out(self) -> str | None:
        """The branch HEAD's reflog last moved to (fsck's suggestion for a damaged HEAD)."""
        for entry in reversed(self.reflog("HEAD")):
            target = entry.message.rpartition(" to ")[2]
            if entry.message.startswith("checkout: moving from ") and self.branch_exists(target):
                return target
        return None

    def branch_exists(self, name: str) -> bool:
        try:
            return self.records.stat(self._branch_key(name)) is not None
        except InvalidNameError:
            return False

    def reflog_refs(self) -> list[str]:
        """Every ref that has a reflog (``HEAD``, ``refs/heads/...``)."""
        return [key[len(LOGS) + 1 :] for key in self.records.list(LOGS)]


def reflog_name(ref: str) -> str:
    """The reflog a user's ref names: ``HEAD``'s own, else the branch's (``refs/heads/...``)."""
    return ref if ref == "HEAD" else f"refs/heads/{check_ref_name(ref)}"


def _parse_reflog_line(line: bytes) -> ReflogEntry | None:
    """One entry, or None for a line torn by a crash."""
    try:
        d = loads_json(line)
        return ReflogEntry(d["old"], d["new"], d["who"], d["time"], d["message"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
