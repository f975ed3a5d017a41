"""Repository consistency check: every object re-hashed, every reference followed.

Errors are damage (a corrupt object, a commit whose parent is missing, a branch pointing
nowhere). Warnings are harmless leftovers (an interrupted write's temp file, a commit that no
ref reaches any more, an index that will be rebuilt).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from coral.errors import CoralError
from coral.records.config import DEFAULTS
from coral.records.parts import RepositoryParts
from coral.storage.pack_store import PackStore


@dataclass(frozen=True)
class FsckIssue:
    """One problem fsck found: its kind, what it concerns (an object, commit or ref) and a
    message that says how to repair it."""

    kind: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class FsckReport:
    """Everything fsck found: ``ok`` is False when there is any error; warnings do not
    make a repository unhealthy."""

    errors: list[FsckIssue] = field(default_factory=list)
    warnings: list[FsckIssue] = field(default_factory=list)
    objects_checked: int = 0
    commits_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, kind: str, subject: str, message: str) -> None:
        self.errors.append(FsckIssue(kind, subject, message))

    def warn(self, kind: str, subject: str, message: str) -> None:
        self.warnings.append(FsckIssue(kind, subject, message))

    def __str__(self) -> str:
        head = (
            f"fsck: {self.objects_checked} objects, {self.commits_checked} commits checked: "
            + ("OK" if self.ok else f"{len(self.errors)} error(s)")
            + (f", {len(self.warnings)} warning(s)" if self.warnings else "")
        )
        lines = [head]
        lines += [f"  error   {issue}" for issue in self.errors]
        lines += [f"  warning {issue}" for issue in self.warnings]
        return "\n".join(lines)


@dataclass
class Fsck:
    """One fsck pass over a repository's parts: config, objects (re-hashed), refs, commits,
    tags and the staging area, collected into a :class:`FsckReport`."""

    parts: RepositoryParts
    report: FsckReport = field(default_factory=FsckReport)

    def run(self, verify_objects: bool = True) -> FsckReport:
        self._check_config()
        bad_objects = self._check_objects(verify_objects)
        tips = self._check_refs()
        self._check_commits(bad_objects, tips)
        self._check_staging()
        self._check_temp_files()
        return self.report

    def _check_config(self) -> None:
        for key in DEFAULTS:
            try:
                self.parts.config.get(key)
            except CoralError as err:
                self.report.error("bad-config", key, str(err))

    def _check_objects(self, verify: bool) -> set[str]:
        if isinstance(self.parts.store, PackStore):
            self._check_packs(self.parts.store)
        bad: set[str] = set()
        for oid in self.parts.store.object_ids():
            self.report.objects_checked += 1
            if not verify:
                continue
            try:
                self.parts.store.verify(oid)
            except CoralError as err:
                bad.add(oid)
                self.report.error("corrupt-object", oid, str(err))
        return bad

    def _check_refs(self) -> set[str]:
        """Check HEAD, branches and tags; return the commits they point at."""
        tips: set[str] = set()
        try:
            head = self.parts.refs.head()
            if head.commit_hash is not None:
                tips.add(head.commit_hash)
        except CoralError as err:
            self.report.error("bad-head", "HEAD", str(err) + self._head_hint())
        for name in self.parts.refs.branch_names():
            try:
                branch = self.parts.refs.read_branch(name)
            except CoralError as err:
                self.report.error("bad-ref", name, str(err) + self._branch_hint(name))
                continue
            if branch is not None:
                tips.add(branch.commit_hash)
                if branch.commit_hash not in self.parts.commits:
                    self.report.error(
                        "bad-ref",
                        name,
                        f"branch {name!r} points to missing commit {branch.commit_hash}"
                        + self._branch_hint(name),
                    )
        tips |= self._check_tracking_refs()
        try:
            versions = self.parts.versions.all()
        except CoralError as err:
            self.report.error("bad-tag", "versions", str(err))
            versions = {}
        branch_names = set(self.parts.refs.branch_names())
        for version in versions.values():
            if version.name in branch_names:
                self.report.warn(
                    "ambiguous-ref",
                    version.name,
                    f"{version.name!r} is both a branch and a tag; refs resolve to the branch "
                    f"(delete one with repo.delete_version({version.name!r}) or delete_branch)",
                )
            tips.add(version.commit_hash)
            if version.commit_hash not in self.parts.commits:
                self.report.error(
                    "bad-tag",
                    version.name,
                    f"tag {version.name!r} points to missing commit {version.commit_hash}",
                )
        return tips

    def _head_hint(self) -> str:
        branch = self.parts.refs.last_checked_out()
        if branch is None:
            return ""
        return f" (HEAD's reflog last checked out {branch!r}: write 'ref: refs/heads/{branch}')"

    def _branch_hint(self, name: str) -> str:
        """The newest reflog position of ``name`` whose commit exists, as a restore command."""
        for entry in reversed(self.parts.refs.reflog(f"refs/heads/{name}")):
            if entry.new and entry.new in self.parts.commits:
                return (
                    f" (its reflog last had it at {entry.new[:12]} ({entry.message}): delete "
                    f"the branch file and run repo.create_branch({name!r}, {entry.new!r}))"
                )
        return ""

    def _check_tracking_refs(self) -> set[str]:
        """``refs/remotes/<remote>/<branch>``: readable, pointing at commits we have."""
        tracking = self.parts.tracking
        tips: set[str] = set()
        for remote in tracking.remotes():
            subject = f"refs/remotes/{remote}"
            try:
                refs = tracking.all(remote)
            except CoralError as err:
                self.report.error("bad-ref", subject, str(err))
                continue
            for branch, commit_hash in refs.items():
                tips.add(commit_hash)
                if commit_hash not in self.parts.commits:
                    self.report.error(
                        "bad-ref",
                        f"{subject}/{branch}",
                        f"remote-tracking branch {remote}/{branch} points to missing "
                        f"commit {commit_hash}; pull from {remote!r} again to repair it",
                    )
        return tips

    def _check_commits(self, bad_objects: set[str], tips: set[str]) -> None:
        parents: dict[str, list[str]] = {}
        readable = []
        for commit_hash in self.parts.commits.all_hashes():
            self.report.commits_checked += 1
            try:
                readable.append(self.parts.commits.get(commit_hash))
            except CoralError as err:
                self.report.error("corrupt-commit", commit_hash, str(err))
        for commit in readable:
            short = commit.commit_hash[:8]
            parents[commit.commit_hash] = commit.parent_hashes
            for parent in commit.parent_hashes:
                if parent not in self.parts.commits:
                    self.report.error(
                        "missing-parent",
                        commit.commit_hash,
                        f"commit {short} names missing parent {parent}",
                    )
            for name, oid in sorted(commit.weight_hashes.items()):
                if oid in bad_objects:
                    self.report.error(
                        "damaged-weight",
                        commit.commit_hash,
                        f"commit {short} weight {name!r} uses corrupt object {oid}",
                    )
                elif oid not in self.parts.store:
                    self.report.error(
                        "missing-object",
                        commit.commit_hash,
                        f"commit {short} weight {name!r} needs missing object {oid}",
                    )
        for commit in readable:
            for parent in commit.parent_hashes:
                if parent in self.parts.commits and parent not in parents:
                    self.report.error(
                        "damaged-parent",
                        commit.commit_hash,
                        f"commit {commit.commit_hash[:8]} has a corrupt parent {parent[:8]}",
                    )
        self._check_reachability(parents, tips)

    def _check_reachability(self, parents: dict[str, list[str]], tips: set[str]) -> None:
        roots = set(tips)
        for ref in self.parts.refs.reflog_refs():
            for entry in self.parts.refs.reflog(ref):
                roots.update(h for h in (entry.old, entry.new) if h)
        reachable: set[str] = set()
        stack = [h for h in roots if h in parents]
        while stack:
            h = stack.pop()
            if h in reachable:
                continue
            reachable.add(h)
            stack.extend(p for p in parents.get(h, []) if p in parents)
        for commit_hash in sorted(parents.keys() - reachable):
            self.report.warn(
                "dangling-commit",
                commit_hash,
                f"commit {commit_hash[:8]} is not reachable from any branch, tag or reflog",
            )

    def _check_staging(self) -> None:
        for label, area in self.parts.staging_areas().items():
            try:
                staged = area.read()
            except CoralError as err:
                self.report.error("bad-staging", label, str(err))
                continue
            for name, entry in sorted(staged.weights.items()):
                if entry.object_id not in self.parts.store:
                    self.report.error(
                        "missing-object",
                        label,
                        f"staged weight {name!r} ({label}) needs missing object "
                        f"{entry.object_id}; re-stage it",
                    )

    def _check_packs(self, store: PackStore) -> None:
        for name, reason in store.unreadable_packs().items():
            self.report.error("bad-pack", name, f"pack {name} cannot be read: {reason}")
        for name, problems in store.check_packs(store.pack_names()).items():
            for problem in problems:
                kind = "bad-pack" if "cannot be read:" in problem else "pack-index"
                (self.report.error if kind == "bad-pack" else self.report.warn)(kind, name, problem)

    def _check_temp_files(self) -> None:
        try:
            leftovers = sorted(os.listdir(self.parts.tmp_dir))
        except FileNotFoundError:
            return
        for name in leftovers:
            self.report.warn(
                "temp-file",
                name,
                f"tmp/{name} was left by an interrupted write (harmless; gc removes it after "
                "the grace period, or at once with repo.gc(prune='now'))",
            )
