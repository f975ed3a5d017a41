"""``repo.pull`` and lazy remote reads: fetch what the remote's refs reach and this repository
lacks (commits checked against their hashes, objects decoded and re-hashed before they are
installed), record where the remote's branches are, then bring local branches up to date
where that loses nothing.

Order on disk: objects, then commits, then refs, so a pull killed at any point leaves a
repository whose every ref has its whole history and every tensor; re-running it fetches only
what is still missing."""

from __future__ import annotations

import math
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from coral.errors import ConcurrentUpdateError, CoralError, RefExistsError, RemoteFormatError
from coral.history.walk import parents_first, reachable, weight_objects
from coral.records.commit import Commit
from coral.records.refs import Branch
from coral.records.tags import Version
from coral.remote import keys, wire
from coral.remote.backend import RemoteKeyNotFound
from coral.remote.install import Downloaded, verify_and_install
from coral.remote.local import LocalSide
from coral.remote.progress import Progress, ProgressCallback
from coral.remote.remote import Remote, RemoteRefs
from coral.remote.results import PullResult
from coral.storage.validation import MAX_OBJECT_BYTES


@dataclass(frozen=True)
class Installed:
    """What :func:`install_objects` did: objects downloaded and installed, their bytes, and
    the objects needed that were here already."""

    objects: int
    nbytes: int
    skipped: int


@dataclass
class _RefChanges:
    """What a pull did to refs, filled in step by step (frozen into the result at the end)."""

    branches_updated: dict[str, str] = field(default_factory=dict)
    branches_created: list[str] = field(default_factory=list)
    diverged: dict[str, str] = field(default_factory=dict)
    tags_pulled: list[str] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


def pull(
    local: LocalSide,
    remote: Remote,
    *,
    force: bool = False,
    progress_callback: ProgressCallback | None = None,
    show_progress: bool | None = None,
    jobs: int = 8,
) -> PullResult:
    """Fetch, then update local branches: create the ones only the remote has, fast-forward
    the ones behind it; a diverged branch is reported in ``diverged`` and left alone (with
    ``force``: reset to the remote's). A remote tag named like a local branch, or a remote
    branch named like a local tag, is reported in ``rejected`` and not taken (even with
    ``force``), the rule ``create_branch`` and ``tag_version`` follow."""
    changes = _RefChanges()
    # Until the pulled commits reference the installed objects, gc must not take them.
    with local.store.guard_writes():
        fetched = _fetch(local, remote, changes, force, progress_callback, show_progress, jobs)
        if fetched is None:
            return PullResult()
        state, installed, commits = fetched
        _update_branches(local, remote, state, force, changes)
    return PullResult(
        weights_pulled=installed.objects,
        bytes_transferred=installed.nbytes,
        skipped=installed.skipped,
        commits_pulled=commits,
        branches_updated=changes.branches_updated,
        branches_created=changes.branches_created,
        diverged=changes.diverged,
        tags_pulled=changes.tags_pulled,
        rejected=changes.rejected,
    )


def _fetch(
    local: LocalSide,
    remote: Remote,
    changes: _RefChanges,
    replace_tags: bool,
    callback: ProgressCallback | None,
    show: bool | None,
    jobs: int,
) -> tuple[RemoteRefs, Installed, int] | None:
    """Download and install everything the remote's refs reach; update tracking refs and
    tags. Returns the remote's refs, what was installed and the number of commits fetched;
    None for an empty remote (nothing pushed yet)."""
    if not remote.is_initialised():
        if next(iter(remote.backend.list("")), None) is not None:
            raise RemoteFormatError(f"{remote.url} is not empty and is not a Coral remote")
        return None
    state = remote.refs()
    changes.rejected.update(state.rejected)
    roots = [r.commit_hash for r in state.branches.values()]
    roots += [t.commit_hash for t in state.tags.values()]
    commits = fetch_commits(local, remote, roots, jobs)
    installed = install_objects(local, remote, commits.values(), callback, show, jobs)
    for commit in parents_first(commits):
        local.commits.put(commit)
    _record_tracking(local, remote, state, changes.rejected)
    _refuse_names_of_both_kinds(state, changes.rejected)
    for tag in state.tags.values():
        mine = local.versions.by_name(tag.name)
        if mine is not None and mine.commit_hash == tag.commit_hash:
            continue  # already here
        _install_tag(local, tag, replace_tags, changes)
    return state, installed, len(commits)


def _refuse_names_of_both_kinds(state: RemoteRefs, rejected: dict[str, str]) -> None:
    """A name the remote has as a branch and as a tag is taken as neither: which one it
    meant cannot be known, and here a name resolves one way. Its tracking ref stays."""
    for name in sorted(set(state.branches) & set(state.tags)):
        why = (
            f"the remote has both a branch and a tag named {name!r}; took neither so refs "
            "stay unambiguous (rename one of them on the remote)"
        )
        rejected[f"refs/heads/{name}"] = why
        rejected[f"tag {name}"] = why
        del state.branches[name], state.tags[name]


def _install_tag(local: LocalSide, tag: Version, replace: bool, changes: _RefChanges) -> None:
    with local.refs.lock.hold():  # the branch check and the install must be one step
        if local.branches.has_branch(tag.name):
            changes.rejected[f"tag {tag.name}"] = (
                f"{tag.name!r} is a local branch; kept the branch and left the remote's tag "
                "out so refs stay unambiguous (rename the branch, then pull again)"
            )
            return
        installed = local.versions.install(tag, replace=replace)
    if installed:
        changes.tags_pulled.append(tag.name)
    else:
        changes.rejected[f"tag {tag.name}"] = (
            f"the remote's is on {tag.commit_hash[:8]}, yours on another commit; kept "
            "yours (pull with force=True to take the remote's)"
        )


def fetch_commits(
    local: LocalSide, remote: Remote, roots: Iterable[str], jobs: int
) -> dict[str, Commit]:
    """The commits reachable from ``roots`` that this repository lacks, fetched level by
    level in parallel and checked against their hashes (not stored yet)."""
    fetched: dict[str, Commit] = {}
    frontier = {h for h in roots if h not in local.commits}
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="coral-fetch") as pool:
        while frontier:
            level = list(pool.map(remote.get_commit, sorted(frontier)))
            fetched.update((c.commit_hash, c) for c in level)
            frontier = {
                p
                for c in level
                for p in c.parent_hashes
                if p not in fetched and p not in local.commits
            }
    return fetched


def install_objects(
    local: LocalSide,
    remote: Remote,
    commits: Iterable[Commit],
    callback: ProgressCallback | None,
    show: bool | None,
    jobs: int,
) -> Installed:
    """Download the objects ``commits`` need that are not here (with the delta bases they
    need in turn), verify them all, install them all."""
    commits = list(commits)
    wanted = weight_objects(commits)
    present = {oid for oid in wanted if oid in local.store}
    limits = _expected_sizes(commits)
    scratch = Path(tempfile.mkdtemp(dir=local.tmp_dir, prefix=".pull-"))
    try:
        downloaded = _download(
            local, remote, wanted - present, limits, scratch, callback, show, jobs
        )
        verify_and_install(local.store, downloaded)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    nbytes = sum(d.offset + d.info.stored_nbytes for d in downloaded.values())
    return Installed(len(downloaded), nbytes, len(present))


def _expected_sizes(commits: list[Commit]) -> dict[str, int]:
    """Each wanted object's tensor size in bytes, from the shape and dtype its commit
    declares: its blob is refused before download when larger than that allows, and its
    header must say the same before anything is allocated."""
    sizes: dict[str, int] = {}
    for commit in commits:
        for name, oid in commit.weight_hashes.items():
            meta = commit.weight_metadata.get(name)
            if meta is not None:
                sizes[oid] = math.prod(meta.shape) * meta.dtype.itemsize
    return sizes


def _download(
    local: LocalSide,
    remote: Remote,
    oids: set[str],
    sizes: dict[str, int],
    scratch: Path,
    callback: ProgressCallback | None,
    show: bool | None,
    jobs: int,
) -> dict[str, Downloaded]:
    downloaded: dict[str, Downloaded] = {}
    progress = Progress("pull", len(oids), None, callback, show)

    def get(oid: str) -> Downloaded:
        path = scratch / uuid.uuid4().hex
        expected = sizes.get(oid)
        limit = wire.max_blob_size(MAX_OBJECT_BYTES if expected is None else expected)
        try:
            size = remote.backend.get_to_file(keys.object_key(oid), path, limit)
        except RemoteKeyNotFound:
            raise RemoteFormatError(
                f"the remote lacks object {oid}, which its commits need; nothing was installed"
            ) from None
        info, offset = wire.read_header(path, oid)
        if expected is not None and info.raw_nbytes != expected:
            raise RemoteFormatError(
                f"remote object {oid} claims {info.raw_nbytes} bytes where its commit or delta "
                f"says {expected}; nothing was installed"
            )
        progress.advance(size, oid)
        return Downloaded(info, path, offset)

    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="coral-fetch") as pool:
            wave = sorted(oids)
            for _ in range(wire.MAX_DEPTH + 1):  # each wave goes one delta level down
                for item in pool.map(get, wave):
                    downloaded[item.info.object_id] = item
                bases: dict[str, int] = {}
                for item in downloaded.values():
                    for base in item.info.bases:
                        if base not in downloaded and base not in local.store:
                            bases[base] = item.info.raw_nbytes  # a base is its delta's size
                sizes.update(bases)
                progress.total += len(bases)
                wave = sorted(bases)
                if not wave:
                    break
            if wave:
                raise RemoteFormatError(
                    f"the remote's delta chains are deeper than {wire.MAX_DEPTH}; "
                    "nothing was installed"
                )
    finally:
        progress.close()
    return downloaded


def _record_tracking(
    local: LocalSide, remote: Remote, state: RemoteRefs, rejected: dict[str, str]
) -> None:
    # First forget what the remote deleted: a deleted folder may be a new branch's name.
    local.tracking.keep_only(remote.name, set(state.branches))
    for name, ref in sorted(state.branches.items()):
        try:
            local.tracking.record(remote.name, name, ref.commit_hash)
        except RefExistsError as err:
            rejected[f"refs/heads/{name}"] = str(err)
            del state.branches[name]


def _update_branches(
    local: LocalSide, remote: Remote, state: RemoteRefs, force: bool, changes: _RefChanges
) -> None:
    heads = local.branch_heads()
    head = local.refs.head()
    staged = local.staging.read()
    # A repository with no commits yet (just initialised: a clone) takes the remote's default
    # branch, as git clone does; decided before branches are created below.
    fresh = head.commit_hash is None and not heads
    for name, ref in state.branches.items():
        mine = heads.get(name)
        theirs = ref.commit_hash
        if mine == theirs:
            continue
        message = f"pull {remote.name}: "
        if mine is None:
            try:
                local.branches.create_branch(name, theirs, message=message + "created")
            except CoralError as err:  # a local name clashes (a tag; 'x' here, 'x/y' there)
                changes.rejected[f"refs/heads/{name}"] = (
                    f"{err}; the remote's branch stays readable as {remote.name}/{name}"
                )
                continue
            changes.branches_created.append(name)
            changes.branches_updated[name] = theirs
            continue
        behind = mine in reachable([theirs], local.parents, stop=set())
        if not behind and not force:
            if theirs not in reachable([mine], local.parents, stop=set()):
                changes.diverged[name] = (
                    f"yours ({mine[:8]}) and {remote.name}'s ({theirs[:8]}) have diverged: "
                    f"merge them with repo.merge('{remote.name}/{name}'), or pull with force=True "
                    "to take the remote's"
                )
            continue  # ahead of the remote: nothing to take
        if name == head.branch and not staged.empty:
            changes.diverged[name] = (
                "it is checked out with staged changes: commit or reset them, then pull again"
            )
            continue
        try:
            local.refs.write_branch(
                Branch(name, theirs),
                expected=mine,
                who=local.who,
                message=message + ("fast-forward" if behind else "forced update"),
            )
        except ConcurrentUpdateError as err:  # moved by someone else while we pulled
            changes.diverged[name] = str(err)
            continue
        changes.branches_updated[name] = theirs
    if fresh:
        _adopt_remote_head(local, state, head.branch)


def _adopt_remote_head(local: LocalSide, state: RemoteRefs, branch: str | None) -> None:
    """Check out the remote's default branch: its HEAD, else this repository's own unborn
    branch if the remote has it, else the first."""
    if state.head in state.branches:
        default: str | None = state.head
    elif branch in state.branches:
        default = branch
    else:
        default = min(state.branches, default=None)
    if default is not None and default != branch and local.refs.read_branch(default):
        local.refs.set_head_branch(default)
