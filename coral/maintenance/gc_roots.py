"""What garbage collection must keep: the commits and objects each ref reaches.

Roots are HEAD, branches, tags, remote-tracking refs, the staging area, reflog entries (until
they expire) and unreferenced commits younger than the grace period. Each ref is a *label* so
gc can report what deleting it alone would free; reflogs and young commits keep things alive
without taking part in that count (HEAD's reflog names nearly every commit ever made, which
would make every branch look free to delete).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from coral.errors import CoralError, CorruptObjectError
from coral.history.walk import closure
from coral.records.commit import Commit
from coral.records.commits import CommitStore
from coral.records.refs import ReflogEntry, RefStore
from coral.records.staging import StagingArea
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.pack_store import PackStore


@dataclass
class Roots:
    """Commits (and, for staging, objects) that must survive, by where they come from."""

    by_ref: dict[str, set[str]] = field(default_factory=dict)  # "branch main" -> tips
    staged: dict[str, set[str]] = field(default_factory=dict)  # "staging" -> object IDs
    other: set[str] = field(default_factory=set)  # reflog entries, young unreferenced commits
    expired: dict[str, list[ReflogEntry]] = field(default_factory=dict)  # ref -> dropped


class Reachability:
    """Walks commits and delta chains, refusing to guess when the walk meets damage."""

    def __init__(self, commits: CommitStore, store: PackStore) -> None:
        self._commits = commits
        self._store = store
        self._parents: dict[str, list[str]] = {}
        self._objects: dict[str, set[str]] = {}

    def commits_from(self, tips: Iterable[str], label: str) -> set[str]:
        return closure(tips, lambda commit_hash: self._parents_of(commit_hash, label))

    def _parents_of(self, commit_hash: str, label: str) -> list[str]:
        parents = self._parents.get(commit_hash)
        if parents is None:
            commit = self._read(commit_hash, label)
            parents = self._parents[commit_hash] = list(commit.parent_hashes)
            self._objects[commit_hash] = set(commit.weight_hashes.values())
        return parents

    def _read(self, commit_hash: str, label: str) -> Commit:
        try:
            return self._commits.get(commit_hash)
        except CoralError as err:
            raise CorruptObjectError(
                f"gc stopped before deleting anything: commit {commit_hash[:12]}, reachable "
                f"from {label}, cannot be read ({err}); run repo.fsck()"
            ) from None

    def objects_of(self, commit_hashes: Iterable[str], label: str) -> set[str]:
        """The objects these commits use, with every delta base below them."""
        direct: set[str] = set()
        for commit_hash in commit_hashes:
            self._parents_of(commit_hash, label)
            direct |= self._objects[commit_hash]
        return self.with_bases(direct, label)

    def with_bases(self, oids: Iterable[str], label: str) -> set[str]:
        def bases(oid: str) -> tuple[str, ...]:
            try:
                return self._store.info(oid).bases
            except CoralError as err:
                raise CorruptObjectError(
                    f"gc stopped before deleting anything: object {oid}, needed by {label}, "
                    f"cannot be found ({err}); run repo.fsck()"
                ) from None

        return closure(oids, bases)


def collect_roots(
    refs: RefStore,
    versions: VersionStore,
    tracking: TrackingRefs,
    staging: Mapping[str, StagingArea],
    reach: Reachability,
    *,
    now: datetime,
    reflog_expire: timedelta | None,
) -> Roots:
    """Every root, with the reflog entries that ``reflog_expire`` lets go (entries older
    than that naming a commit no ref reaches any more, as git's ``expire-unreachable``)."""
    roots = Roots()
    head = refs.head()
    if head.detached and head.commit_hash:
        roots.by_ref["HEAD (detached)"] = {head.commit_hash}
    for branch in refs.list_branches():
        roots.by_ref[f"branch {branch.name}"] = {branch.commit_hash}
    for version in versions.all().values():
        roots.by_ref.setdefault(f"tag {version.name}", set()).add(version.commit_hash)
    for name, commit_hash in tracking.every_ref().items():
        roots.by_ref[f"remote-tracking {name}"] = {commit_hash}
    for label, area in staging.items():  # the shared area and every writer's own
        staged = {w.object_id for w in area.read().weights.values()}
        if staged:
            roots.staged[label] = staged
            roots.by_ref[label] = set()

    reached: set[str] = set()
    for label, tips in roots.by_ref.items():
        reached |= reach.commits_from(tips, label)
    cutoff = None if reflog_expire is None else now - reflog_expire
    for ref in refs.reflog_refs():
        for entry in refs.reflog(ref):
            named = {h for h in (entry.old, entry.new) if h}
            # As git: an old entry goes when either end is a commit no ref reaches.
            if cutoff is not None and _entry_older(entry, cutoff) and not named <= reached:
                roots.expired.setdefault(ref, []).append(entry)
            else:
                roots.other |= named
    return roots


def _entry_older(entry: ReflogEntry, cutoff: datetime) -> bool:
    try:
        return datetime.fromisoformat(entry.time) < cutoff
    except (TypeError, ValueError):
        return False  # an entry we cannot date is kept


def exclusive_bytes(object_sets: dict[str, set[str]], size: dict[str, int]) -> dict[str, int]:
    """For each label, the stored bytes of the objects no other label reaches."""
    counts: Counter[str] = Counter()
    for oids in object_sets.values():
        counts.update(oids)
    return {
        label: sum(size.get(oid, 0) for oid in oids if counts[oid] == 1)
        for label, oids in object_sets.items()
    }
