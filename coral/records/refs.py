"""HEAD, branch refs and their reflogs (plumbing).

``HEAD`` holds ``ref: refs/heads/<branch>`` or, detached, a commit hash. Each branch is a JSON
file ``refs/heads/<name>`` (``{name, commit_hash, parent_branch}``); names with ``/`` become
sub-directories, as in git. Every update is a compare-and-swap under the repository lock and
is appended to ``logs/`` (the reflog), so a moved or deleted branch can always be traced.

``logs/HEAD`` is HEAD's own reflog, kept as git keeps it: one entry per move of HEAD, whether
its branch moved (commit, merge, reset, pull: :meth:`RefStore.write_branch` logs both) or HEAD
itself did (a detached commit, a checkout: logged by whoever writes ``HEAD``). Nothing else goes
there, so ``HEAD@{N}`` is where HEAD was N moves ago, and work done on a detached HEAD stays
findable after a checkout leaves it.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coral.errors import (
    ConcurrentUpdateError,
    InvalidNameError,
    RefExistsError,
    RepositoryFormatError,
)
from coral.records.commit import is_commit_hash, now_utc
from coral.records.refnames import check_ref_name
from coral.storage.fsutil import (
    atomic_write_bytes,
    atomic_write_json,
    fsync_dir,
    loads_json,
    read_json,
)
from coral.storage.locking import RepositoryLock

HEAD_REF_PREFIX = "ref: refs/heads/"
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
    old: str | None
    new: str | None
    who: str
    time: str
    message: str


class RefStore:
    def __init__(self, coral_dir: Path, tmp_dir: Path, lock: RepositoryLock) -> None:
        self.coral_dir = coral_dir
        self.heads_dir = coral_dir / "refs" / "heads"
        self.head_file = coral_dir / "HEAD"
        self.logs_dir = coral_dir / "logs"
        self.tmp_dir = tmp_dir
        self.lock = lock

    # --- HEAD ---

    def head(self) -> Head:
        try:
            with open(self.head_file, "rb") as fh:
                text = fh.read(_MAX_HEAD_BYTES).decode("utf-8").strip()
        except FileNotFoundError:
            raise RepositoryFormatError(
                f"{self.head_file} is missing; restore it with the text 'ref: refs/heads/main'"
            ) from None
        except UnicodeDecodeError:
            raise RepositoryFormatError(
                f"{self.head_file} is not text; rewrite it as 'ref: refs/heads/main'"
            ) from None
        if text.startswith(HEAD_REF_PREFIX):
            name = text[len(HEAD_REF_PREFIX) :]
            try:
                check_ref_name(name)
            except InvalidNameError as err:
                raise RepositoryFormatError(
                    f"{self.head_file} names no valid branch ({err}); rewrite it as "
                    "'ref: refs/heads/main'"
                ) from None
            branch = self.read_branch(name)
            return Head(name, branch.commit_hash if branch else None)
        if is_commit_hash(text):
            return Head(None, text)
        raise RepositoryFormatError(
            f"{self.head_file} holds {text[:60]!r}, which is neither a branch ref nor a commit "
            "hash; rewrite it as 'ref: refs/heads/main'"
        )

    def set_head_branch(self, name: str) -> None:
        check_ref_name(name)
        self._write_head(HEAD_REF_PREFIX + name)

    def set_head_detached(self, commit_hash: str) -> None:
        self._write_head(commit_hash)

    def _write_head(self, text: str) -> None:
        # No trailing newline: the seed chapter reads HEAD with a plain f.read().
        atomic_write_bytes(self.head_file, text.encode(), tmp_dir=self.tmp_dir)

    # --- branches ---

    def branch_path(self, name: str) -> Path:
        return self.heads_dir.joinpath(*check_ref_name(name).split("/"))

    def read_branch(self, name: str) -> Branch | None:
        path = self.branch_path(name)
        if not path.is_file():
            return None
        try:
            branch = Branch.from_dict(read_json(path))
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise RepositoryFormatError(f"branch file {path} is unreadable: {err}") from err
        if not is_commit_hash(branch.commit_hash):
            raise RepositoryFormatError(f"branch file {path} does not hold a commit hash")
        return branch

    def branch_names(self) -> list[str]:
        """Names of all branch files, without reading them (fsck reads them one by one)."""
        names = []
        for dirpath, _, filenames in os.walk(self.heads_dir):
            for filename in filenames:
                if filename.startswith("."):
                    continue  # a temp file of an interrupted write
                rel = Path(dirpath, filename).relative_to(self.heads_dir)
                name = "/".join(rel.parts)
                try:
                    names.append(check_ref_name(name))
                except InvalidNameError:
                    continue
        return sorted(names)

    def list_branches(self) -> list[Branch]:
        branches = (self.read_branch(name) for name in self.branch_names())
        return [b for b in branches if b is not None]

    def write_branch(self, branch: Branch, *, expected: str | None, who: str, message: str) -> None:
        """Create or move a branch, if it currently points at ``expected`` (None: absent)."""
        if not is_commit_hash(branch.commit_hash):
            raise ValueError(f"{branch.commit_hash!r} is not a full commit hash")
        path = self.branch_path(branch.name)
        with self.lock.hold():
            current = self.read_branch(branch.name)
            current_hash = current.commit_hash if current else None
            if current_hash != expected:
                if expected is None:
                    raise RefExistsError(f"branch {branch.name!r} already exists")
                raise ConcurrentUpdateError(
                    f"branch {branch.name!r} moved to {str(current_hash)[:8]} while this "
                    f"operation expected {expected[:8]}; retry it"
                )
            self._check_no_path_conflict(branch.name)
            atomic_write_json(path, branch.to_dict(), tmp_dir=self.tmp_dir)
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
            path = self.branch_path(name)
            path.unlink()
            fsync_dir(path.parent)
            parent = path.parent
            while parent != self.heads_dir and not any(parent.iterdir()):
                parent.rmdir()
                parent = parent.parent
            self.delete_reflog(f"refs/heads/{name}")
            return branch

    def _check_no_path_conflict(self, name: str) -> None:
        """git's D/F rule: 'feature' and 'feature/x' cannot both be branches."""
        path = self.branch_path(name)
        if path.is_dir():
            inside = [b for b in self.branch_names() if b.startswith(name + "/")]
            raise RefExistsError(
                f"cannot create branch {name!r}: branch {(inside or [name + '/...'])[0]!r} "
                "exists, and a name cannot be both a branch and a folder of branches"
            )
        for ancestor in path.relative_to(self.heads_dir).parents:
            if str(ancestor) != "." and (self.heads_dir / ancestor).is_file():
                raise RefExistsError(
                    f"cannot create branch {name!r}: branch {ancestor.as_posix()!r} exists"
                )

    # --- reflog ---

    def _reflog_path(self, ref: str) -> Path:
        return self.logs_dir.joinpath(*ref.split("/"))

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
        path = self._reflog_path(ref)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as err:
            warnings.warn(f"could not append to the reflog {path}: {err}", stacklevel=3)

    def delete_reflog(self, ref: str) -> None:
        """Forget a deleted branch's reflog (as git does); HEAD's reflog keeps its commits."""
        path = self._reflog_path(ref)
        path.unlink(missing_ok=True)
        parent = path.parent
        while parent != self.logs_dir and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def reflog(self, ref: str) -> list[ReflogEntry]:
        """Entries oldest first; a line torn by a crash is skipped."""
        try:
            lines = self._reflog_path(ref).read_bytes().splitlines()
        except FileNotFoundError:
            return []
        return [e for e in map(_parse_reflog_line, lines) if e is not None]

    def expire_reflog(self, ref: str, expired: Callable[[ReflogEntry], bool]) -> int:
        """Drop the entries ``expired`` selects (gc, holding the lock); returns how many."""
        path = self._reflog_path(ref)
        with self.lock.hold():
            try:
                lines = path.read_bytes().splitlines(keepends=True)
            except FileNotFoundError:
                return 0
            kept = [line for line in lines if (e := _parse_reflog_line(line)) and not expired(e)]
            dropped = len(lines) - len(kept)
            if dropped:
                atomic_write_bytes(path, b"".join(kept), tmp_dir=self.tmp_dir)
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
            return self.branch_path(name).is_file()
        except InvalidNameError:
            return False

    def reflog_refs(self) -> list[str]:
        """Every ref that has a reflog (``HEAD``, ``refs/heads/...``)."""
        refs = []
        for dirpath, _, filenames in os.walk(self.logs_dir):
            for filename in filenames:
                rel = Path(dirpath, filename).relative_to(self.logs_dir)
                refs.append("/".join(rel.parts))
        return sorted(refs)


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
