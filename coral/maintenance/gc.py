"""Garbage collection: ``repo.gc()`` and ``coral gc``.

Packs are immutable, so gc never edits one. It copies the objects still needed out of packs
that hold garbage (and out of small packs, so that hundreds of one-stage packs become one)
into a new pack, publishes that pack durably, and only then deletes the old ones. A crash at
any point leaves every needed object in at least one published pack.

What is kept: everything reachable from a root (see :mod:`.gc_roots`), with every delta base
below it, and anything younger than the grace period (``gc.prune_expire``, two weeks by
default, as git's): unreferenced commits, packs holding unreferenced objects, temp files.

Concurrency: gc holds the gc lock exclusively and then the repository lock while it decides
and deletes. Writers hold the gc lock shared from their first look at the store until what
they wrote is referenced, so an object a writer dedups against or builds a delta on can never
be deleted under it, even with ``prune="now"``. Readers whose index names a deleted pack look
again and find the copy. A dry run takes no lock and changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from coral.core.sizes import human_bytes
from coral.maintenance.gc_roots import Reachability, Roots, collect_roots, exclusive_bytes
from coral.records.commits import CommitStore
from coral.records.parts import RepositoryParts
from coral.storage.objects import ObjectInfo
from coral.storage.pack_store import PackStore

SMALL_PACK_BYTES = 256 << 20
"""Packs below this size are merged together by gc even when they hold no garbage."""


@dataclass
class GcReport:
    """What gc removed (or, for a dry run, would remove).

    Attributes:
        reclaimable: for each ref (``"branch exp"``, ``"tag v1"``, ``"staging"``...), the
            stored bytes that only it keeps alive: what deleting it alone would let gc free
            once the reflog entries naming its commits have expired.
    """

    dry_run: bool
    packs_before: int = 0
    packs_after: int = 0
    packs_removed: list[str] = field(default_factory=list)
    packs_written: int = 0
    objects_removed: int = 0
    objects_kept_young: int = 0
    commits_removed: list[str] = field(default_factory=list)
    commits_kept_young: int = 0
    reflog_entries_expired: int = 0
    temp_files_removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0
    reclaimable: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __str__(self) -> str:
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"gc {verb} {self.objects_removed} objects, {len(self.commits_removed)} commits, "
            f"{self.reflog_entries_expired} reflog entries and "
            f"{len(self.temp_files_removed)} temp files; "
            f"{'would free at least' if self.dry_run else 'freed'} {human_bytes(self.bytes_freed)}",
            f"packs: {self.packs_before} -> {self.packs_after}",
        ]
        if self.objects_kept_young or self.commits_kept_young:
            lines.append(
                f"kept for the grace period: {self.objects_kept_young} objects, "
                f"{self.commits_kept_young} commits (gc --prune=now removes them)"
            )
        if self.reclaimable:
            lines.append("only kept alive by (bytes deleting it alone would free):")
            width = max(len(label) for label in self.reclaimable)
            for label, size in sorted(self.reclaimable.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"  {label:<{width}}  {human_bytes(size)}")
        return "\n".join(lines)


@dataclass
class _Plan:
    rewrite: list[str]  # packs whose needed objects move to a new pack, then deleted
    moved: list[ObjectInfo]  # the copies that move
    commits: list[str]  # unreferenced commits past the grace period
    temp: list[Path]


class GarbageCollector:
    """One gc pass: finds the roots, plans which packs to rewrite and which commits and temp
    files to remove, then does it under the gc lock and the repository lock."""

    def __init__(self, parts: RepositoryParts, store: PackStore) -> None:
        self._parts = parts
        self._store = store  # gc rewrites pack files: only an on-disk store has them
        assert parts.layout is not None, "gc runs on an on-disk repository"
        self._layout = parts.layout

    def run(
        self, *, prune: timedelta | None, reflog_expire: timedelta | None, dry_run: bool
    ) -> GcReport:
        """``prune``: how old unreferenced things must be to go (None: never)."""
        if dry_run:
            return self._collect(prune, reflog_expire, dry_run=True)
        with self._store.gc_lock.collecting(), self._parts.lock.hold():
            return self._collect(prune, reflog_expire, dry_run=False)

    def _collect(
        self, prune: timedelta | None, reflog_expire: timedelta | None, *, dry_run: bool
    ) -> GcReport:
        now = time.time()
        cutoff = None if prune is None else now - prune.total_seconds()
        report = GcReport(dry_run=dry_run)
        self._store.refresh()
        report.packs_before = len(self._store.pack_names())
        reach = Reachability(self._parts.commits, self._store)
        roots = collect_roots(
            self._parts.refs,
            self._parts.versions,
            self._parts.tracking,
            self._parts.staging_areas(),
            reach,
            now=datetime.fromtimestamp(now, timezone.utc),
            reflog_expire=reflog_expire,
        )
        report.reflog_entries_expired = sum(len(e) for e in roots.expired.values())
        plan = self._plan(roots, reach, cutoff, report)
        report.commits_removed = plan.commits
        report.temp_files_removed = [str(p.relative_to(self._layout.coral_dir)) for p in plan.temp]
        removed_bytes = sum(_size(self._store.pack_path(n)) for n in plan.rewrite)
        removed_bytes += sum(_size(p) for p in plan.temp)
        report.packs_removed = list(plan.rewrite)
        if dry_run:
            written = self._estimated_pack_size(plan)
            report.packs_written = int(bool(plan.moved))
            report.packs_after = report.packs_before - len(plan.rewrite) + report.packs_written
        else:
            written = self._execute(roots, plan, report)
            report.packs_after = len(self._store.pack_names())
        report.bytes_freed = max(0, removed_bytes - written)
        return report

    def _estimated_pack_size(self, plan: _Plan) -> int:
        """The packs being rewritten less the payload of the copies they drop (a lower
        bound on what is freed: merging packs also saves some HDF5 overhead)."""
        files = sum(_size(self._store.pack_path(name)) for name in plan.rewrite)
        copies = sum(i.stored_nbytes for n in plan.rewrite for i in self._store.pack_objects(n))
        return files - (copies - sum(i.stored_nbytes for i in plan.moved))

    def _plan(
        self, roots: Roots, reach: Reachability, cutoff: float | None, report: GcReport
    ) -> _Plan:
        object_sets = {
            label: reach.objects_of(reach.commits_from(tips, label), label)
            for label, tips in roots.by_ref.items()
        }
        for label, staged in roots.staged.items():
            object_sets[label] |= reach.with_bases(staged, label)  # "staging", "staging run-a"
        every = set().union(*object_sets.values())
        sizes = {oid: self._store.info(oid).stored_nbytes for oid in every}
        report.reclaimable = exclusive_bytes(object_sets, sizes)
        keep = set(every)

        on_disk = set(self._parts.commits.all_hashes())
        referenced = set().union(*roots.by_ref.values(), roots.other & on_disk)
        by_refs = reach.commits_from(referenced, "a reflog entry")
        keep |= reach.objects_of(by_refs, "a reflog entry")
        young = {h for h in on_disk - by_refs if not _stored_before(self._parts.commits, h, cutoff)}
        alive = by_refs | reach.commits_from(young, "a recent commit")
        report.commits_kept_young = len(alive - by_refs)
        young_objects = reach.objects_of(alive - by_refs, "a recent commit") - keep
        report.objects_kept_young = len(young_objects)
        keep |= young_objects
        commits = sorted(on_disk - alive)

        rewrite, moved = self._plan_packs(keep, reach, cutoff, report)
        return _Plan(rewrite, moved, commits, self._old_temp_files(cutoff))

    def _plan_packs(
        self, keep: set[str], reach: Reachability, cutoff: float | None, report: GcReport
    ) -> tuple[list[str], list[ObjectInfo]]:
        """Which packs to rewrite, and the object copies to carry over.

        A pack holding copies nothing needs is rewritten once it is older than the grace
        period; until then it stays whole, with the bases its deltas need. Packs holding
        only needed copies are merged together when they are small."""
        store = self._store
        names = store.pack_names()

        def garbage_in(name: str) -> bool:
            return not all(_is_needed_copy(store, i, keep) for i in store.pack_objects(name))

        waiting = [n for n in names if not _older(store.pack_path(n), cutoff) and garbage_in(n)]
        waiting_objects = [info for name in waiting for info in store.pack_objects(name)]
        keep |= reach.with_bases(
            {b for info in waiting_objects for b in info.bases}, "a recent pack"
        )
        report.objects_kept_young += len({i.object_id for i in waiting_objects} - keep)
        rewrite: list[str] = []
        small: list[str] = []
        for name in names:
            if name in waiting:
                continue
            if garbage_in(name):
                rewrite.append(name)
            elif _size(store.pack_path(name)) < SMALL_PACK_BYTES:
                small.append(name)
        if len(rewrite) + len(small) >= 2:
            rewrite += small  # merged into the one pack being written
        moved = [
            info
            for name in rewrite
            for info in store.pack_objects(name)
            if _is_needed_copy(store, info, keep)
        ]
        after = {i.object_id for i in waiting_objects} | {i.object_id for i in moved}
        after |= {i.object_id for n in names if n not in rewrite for i in store.pack_objects(n)}
        report.objects_removed = len(set(store.object_ids()) - after)
        return rewrite, moved

    def _old_temp_files(self, cutoff: float | None) -> list[Path]:
        """Leftovers of interrupted writes (temp packs, half-downloaded pulls, temp JSON)
        and indexes whose pack is gone."""
        found: list[Path] = []
        with contextlib.suppress(FileNotFoundError):
            found += [p for p in self._parts.tmp_dir.iterdir() if _older(p, cutoff)]
        packs = self._layout.packs_dir
        for sidecar in packs.glob("*.idx.json"):
            pack = sidecar.with_name(sidecar.name[: -len(".idx.json")] + ".h5")
            if not pack.exists() and _older(sidecar, cutoff):
                found.append(sidecar)
        return sorted(found)

    def _execute(self, roots: Roots, plan: _Plan, report: GcReport) -> int:
        """Carry out the plan (holding both locks); returns the bytes written."""
        for ref, entries in roots.expired.items():
            self._parts.refs.expire_reflog(ref, set(entries).__contains__)
        written = 0
        if plan.moved:
            before = set(self._store.pack_names())
            with self._store.writer() as writer:
                for info in plan.moved:
                    writer.copy(info, self._store.read_payload(info))
            new = set(self._store.pack_names()) - before
            written = sum(_size(self._store.pack_path(name)) for name in new)
            report.packs_written = len(new)
        # Commits before the objects they name, so a crash in between leaves no commit
        # without its weights; and the new pack is durable: only now do the old ones go.
        self._parts.commits.delete(plan.commits)
        self._store.remove_packs(plan.rewrite)
        self._parts.similarity.retain(set(self._store.object_ids()), self._parts.tmp_dir)
        for path in plan.temp:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        return written


def _is_needed_copy(store: PackStore, info: ObjectInfo, keep: set[str]) -> bool:
    """A copy survives if its object is needed and it is the copy reads use."""
    if info.object_id not in keep:
        return False
    chosen = store.info(info.object_id)
    return chosen.location == info.location and chosen.offset == info.offset


def _older(path: Path, cutoff: float | None) -> bool:
    """Whether ``path`` was last changed before ``cutoff`` (None: nothing is old enough)."""
    if cutoff is None:
        return False
    try:
        return os.lstat(path).st_mtime <= cutoff
    except FileNotFoundError:
        return False


def _stored_before(commits: CommitStore, commit_hash: str, cutoff: float | None) -> bool:
    """Whether a commit was stored before ``cutoff``, as :func:`_older` asks of a file."""
    if cutoff is None:
        return False
    modified = commits.modified(commit_hash)
    return modified is not None and modified <= cutoff


def _size(path: Path) -> int:
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return 0
