"""``get_sync_status`` and ``sync``: what a push or a pull would transfer, asked of the remote
without transferring anything, and a pull then a push; and the lazy read of one remote
tensor."""

from __future__ import annotations

from coral.errors import RefNotFoundError, WeightNotFoundError
from coral.history.walk import object_closure, reachable, weight_objects
from coral.records.commit import Commit, is_commit_hash
from coral.remote.local import LocalSide
from coral.remote.progress import ProgressCallback
from coral.remote.pull import install_objects, pull
from coral.remote.push import try_push
from coral.remote.remote import Remote
from coral.remote.results import BranchSync, SyncResult, SyncStatus


def sync_status(local: LocalSide, remote: Remote) -> SyncStatus:
    """Objects and commits each side lacks, and every branch's ahead/behind counts.

    ``needs_push`` counts tensor objects (including delta bases) reachable from local branches
    and tags that the remote lacks; ``needs_pull`` the remote's objects missing here.
    """
    initialised = remote.is_initialised()
    state = remote.refs() if initialised else None
    remote_objects = remote.object_ids() if initialised else set()
    remote_commits = remote.commit_hashes() if initialised else set()
    heads = local.branch_heads()
    tags = [v.commit_hash for v in local.versions.all().values()]
    local_commits = reachable([*heads.values(), *tags], local.parents, stop=set())
    commits = [local.commits.get(h) for h in local_commits]
    local_objects = object_closure(weight_objects(commits), local.store)
    needs_push = len(local_objects - remote_objects)
    needs_pull = sum(1 for oid in remote_objects if oid not in local.store)
    remote_heads = {n: r.commit_hash for n, r in state.branches.items()} if state else {}
    branches = {
        name: _branch_sync(local, heads.get(name), remote_heads.get(name))
        for name in sorted(set(heads) | set(remote_heads))
    }
    in_sync = all(b.local == b.remote for b in branches.values())
    return SyncStatus(
        needs_push=needs_push,
        needs_pull=needs_pull,
        is_synced=needs_push == 0 and needs_pull == 0 and in_sync,
        commits_ahead=sum(1 for h in local_commits if h not in remote_commits),
        commits_behind=sum(1 for h in remote_commits if h not in local.commits),
        branches=branches,
    )


def _branch_sync(local: LocalSide, mine: str | None, theirs: str | None) -> BranchSync:
    """One branch's commits on each side; None where the remote's commit is not here yet
    (pull first to know)."""
    if mine is None or theirs is None:
        ahead = None if mine is None else _count(local, mine, None)
        return BranchSync(mine, theirs, ahead, None)
    if theirs not in local.commits:
        return BranchSync(mine, theirs, None, None)
    base = set(reachable([theirs], local.parents, stop=set()))
    ahead = len(reachable([mine], local.parents, stop=base))
    mine_all = set(reachable([mine], local.parents, stop=set()))
    behind = len(reachable([theirs], local.parents, stop=mine_all))
    return BranchSync(mine, theirs, ahead, behind)


def sync(
    local: LocalSide, remote: Remote, *, progress_callback: ProgressCallback | None = None
) -> SyncResult:
    """Pull, then push; a refused push (diverged branches) shows in ``push.rejected``."""
    pulled = pull(local, remote, progress_callback=progress_callback)
    pushed = try_push(local, remote, progress_callback=progress_callback)
    return SyncResult(
        pull=pulled,
        push=pushed,
        total_pulled=pulled.weights_pulled,
        total_pushed=pushed.weights_pushed,
        is_synced=sync_status(local, remote).is_synced,
    )


def _count(local: LocalSide, start: str, stop: str | None) -> int:
    return len(reachable([start], local.parents, stop=set() if stop is None else {stop}))


def fetch_commit_for_read(local: LocalSide, remote: Remote, ref: str, name: str) -> Commit:
    """The commit ``ref`` names on the remote (a remote branch, tag or full commit hash),
    with the objects of weight ``name`` installed here (and nothing else of it)."""
    state = remote.refs()
    if ref == "HEAD":  # the remote's default branch
        if state.head is None or state.head not in state.branches:
            raise RefNotFoundError(
                f"the remote {remote.name!r} has no default branch; name a branch or a tag"
            )
        ref = state.head
    if ref in state.branches:
        commit_hash = state.branches[ref].commit_hash
    elif ref in state.tags:
        commit_hash = state.tags[ref].commit_hash
    elif is_commit_hash(ref):
        commit_hash = ref
    else:
        raise RefNotFoundError(
            f"the remote {remote.name!r} has no branch or tag {ref!r} (give a branch, a tag or "
            "a full commit hash)"
        )
    if commit_hash in local.commits:
        commit = local.commits.get(commit_hash)
    else:
        commit = remote.get_commit(commit_hash)  # read, not stored: its history stays remote
    if name not in commit.weight_hashes:
        raise WeightNotFoundError(f"no weight {name!r} in {remote.name}'s {ref}")
    just_this = commit.copy()
    just_this.weight_hashes = {name: commit.weight_hashes[name]}
    install_objects(local, remote, [just_this], None, False, jobs=4)
    return commit
