"""``repo.push``: objects first (as stored, deltas with their bases), then commits, then tags,
and only then each remote branch, moved by compare-and-swap. A remote branch therefore never
points at a commit whose history and tensors are not all on the remote, and a push killed at
any point, re-run, sends only what is still missing."""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from coral.errors import NonFastForwardError, RefNotFoundError
from coral.history.walk import object_closure, reachable, weight_objects
from coral.records.tags import Version
from coral.remote import keys, wire
from coral.remote.backend import PreconditionFailed
from coral.remote.local import LocalSide
from coral.remote.progress import Progress, ProgressCallback
from coral.remote.remote import Remote, RemoteRefs
from coral.remote.results import PushResult

IN_MEMORY_UPLOAD = 64 << 20  # larger objects go through a temp file and multipart upload


def push(
    local: LocalSide,
    remote: Remote,
    *,
    force: bool = False,
    branch: str | None = None,
    progress_callback: ProgressCallback | None = None,
    show_progress: bool | None = None,
    jobs: int = 8,
) -> PushResult:
    """Push every local branch (or only ``branch``) and the tags on what is pushed.

    Raises:
        NonFastForwardError: some branch or tag was refused (the others were pushed; the
            error's ``result`` is the :class:`PushResult`, its message names each refusal).
    """
    result = try_push(
        local,
        remote,
        force=force,
        branch=branch,
        progress_callback=progress_callback,
        show_progress=show_progress,
        jobs=jobs,
    )
    if result.rejected:
        reasons = "; ".join(f"{name}: {why}" for name, why in result.rejected.items())
        # coral.errors, the bottom layer, types ``result`` as a dict; it is this mapping.
        raise NonFastForwardError(f"push rejected for {reasons}", result)
    return result


def try_push(
    local: LocalSide,
    remote: Remote,
    *,
    force: bool = False,
    branch: str | None = None,
    progress_callback: ProgressCallback | None = None,
    show_progress: bool | None = None,
    jobs: int = 8,
) -> PushResult:
    """:func:`push`, with refused branches and tags reported in ``rejected`` rather than
    raised (what a sync wants: the pull half already ran)."""
    remote.initialise()
    state = remote.refs()
    local.tracking.keep_only(remote.name, set(state.branches))
    heads = local.branch_heads()
    if branch is not None:
        if branch not in heads:
            raise RefNotFoundError(f"there is no local branch {branch!r} to push")
        heads = {branch: heads[branch]}
    rejected: dict[str, str] = {}  # filled by each step below: name -> why
    moves = _plan_moves(local, remote, state, heads, force, rejected)
    remote_commits = remote.commit_hashes()
    tags = _tags_to_push(local, heads, remote_commits, branch is None)

    # What the remote's refs reach is complete there (refs move last); a commit file alone
    # proves nothing (a killed push may have left it without its parents), so the walk stops
    # only at the former, and the latter are merely not uploaded twice.
    complete = _reached_by_remote_refs(local, state)
    to_send = reachable(
        [*moves.values(), *(v.commit_hash for v in tags)], local.parents, stop=complete
    )
    commits = [local.commits.get(h) for h in to_send]
    needed = object_closure(weight_objects(commits), local.store)
    missing = sorted(needed - remote.object_ids())

    object_bytes = _upload_objects(local, remote, missing, progress_callback, show_progress, jobs)
    new_commits = [c for c in commits if c.commit_hash not in remote_commits]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="coral-push") as pool:
        commit_bytes = sum(pool.map(remote.put_commit, new_commits))
    tags_pushed = _push_tags(remote, state, tags, force, rejected)
    updated = _move_branches(local, remote, state, moves, rejected)
    current = local.refs.head().branch
    on_remote = current in updated or current in state.branches
    if state.head is None and current is not None and on_remote:
        remote.set_head_if_missing(current)  # the first pusher's branch is what clones check out
    return PushResult(
        weights_pushed=len(missing),
        bytes_transferred=object_bytes + commit_bytes,
        skipped=len(needed) - len(missing),
        commits_pushed=len(new_commits),
        branches_updated=updated,
        tags_pushed=tags_pushed,
        rejected=rejected,
    )


def _reached_by_remote_refs(local: LocalSide, state: RemoteRefs) -> set[str]:
    tips = [r.commit_hash for r in state.branches.values()]
    tips += [t.commit_hash for t in state.tags.values()]
    return set(reachable([h for h in tips if h in local.commits], local.parents, stop=set()))


def _plan_moves(
    local: LocalSide,
    remote: Remote,
    state: RemoteRefs,
    heads: dict[str, str],
    force: bool,
    rejected: dict[str, str],
) -> dict[str, str]:
    """Which remote branches to move where; refusals go into ``rejected``."""
    moves: dict[str, str] = {}
    for name, commit_hash in heads.items():
        there = state.branches.get(name)
        if there is not None and there.commit_hash == commit_hash:
            local.tracking.record(remote.name, name, commit_hash)
            continue
        if there is not None and not force:
            if there.commit_hash not in local.commits:
                rejected[name] = (
                    f"the remote's {name} has commits this repository does not have "
                    f"(at {there.commit_hash[:8]}): pull first, or push with force=True"
                )
                continue
            if there.commit_hash not in reachable([commit_hash], local.parents, stop=set()):
                rejected[name] = (
                    f"not a fast-forward: the remote's {name} ({there.commit_hash[:8]}) is not "
                    f"an ancestor of yours ({commit_hash[:8]}); pull and merge first, or push "
                    "with force=True"
                )
                continue
        moves[name] = commit_hash
    return moves


def _tags_to_push(
    local: LocalSide, heads: dict[str, str], remote_commits: set[str], every: bool
) -> list[Version]:
    tags = list(local.versions.all().values())
    if every:
        return tags
    # One branch pushed: only the tags on its history (or on what the remote has already).
    history = set(reachable(heads.values(), local.parents, stop=set()))
    return [v for v in tags if v.commit_hash in history or v.commit_hash in remote_commits]


def _upload_objects(
    local: LocalSide,
    remote: Remote,
    oids: list[str],
    callback: ProgressCallback | None,
    show: bool | None,
    jobs: int,
) -> int:
    """Upload the objects ``oids``; returns the bytes sent."""
    sizes = {oid: wire.blob_size(local.store.info(oid)) for oid in oids}
    progress = Progress("push", len(oids), sum(sizes.values()), callback, show)

    def upload(oid: str) -> None:
        info, payload = local.store.read_encoded(oid)
        header = wire.header_bytes(info)
        key = keys.object_key(oid)
        if sizes[oid] <= IN_MEMORY_UPLOAD:
            remote.backend.put(key, header + payload.tobytes())
        else:
            _upload_via_file(remote, key, header, payload, local.tmp_dir)
        progress.advance(sizes[oid], oid)

    try:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="coral-push") as pool:
            for _ in pool.map(upload, oids):
                pass
    finally:
        progress.close()
    return sum(sizes.values())


def _upload_via_file(remote: Remote, key: str, header: bytes, payload: Any, tmp: Path) -> None:
    with tempfile.NamedTemporaryFile(dir=tmp, prefix=".push-", suffix=".tmp") as fh:
        fh.write(header)
        payload.tofile(fh)
        fh.flush()
        remote.backend.put_file(key, Path(fh.name))


def _push_tags(
    remote: Remote, state: RemoteRefs, tags: list[Version], force: bool, rejected: dict[str, str]
) -> list[str]:
    """Create (or, forced, move) the remote's tags; returns the names pushed."""
    pushed: list[str] = []
    for version in tags:
        there = state.tags.get(version.name)
        if there is not None and there.commit_hash == version.commit_hash:
            continue
        try:
            if there is None:
                remote.put_tag(version)
            elif force:
                remote.replace_tag(version)
            else:
                rejected[f"tag {version.name}"] = (
                    f"the remote's tag is on {there.commit_hash[:8]}, yours on "
                    f"{version.commit_hash[:8]}; tags do not move unless pushed with force=True"
                )
                continue
        except PreconditionFailed:
            rejected[f"tag {version.name}"] = "created on the remote meanwhile; pull first"
            continue
        pushed.append(version.name)
    return pushed


def _move_branches(
    local: LocalSide,
    remote: Remote,
    state: RemoteRefs,
    moves: dict[str, str],
    rejected: dict[str, str],
) -> dict[str, str]:
    """Compare-and-swap each remote branch; returns the ones moved (name -> commit)."""
    updated: dict[str, str] = {}
    for name, commit_hash in moves.items():
        there = state.branches.get(name)
        try:
            remote.move_branch(name, commit_hash, there.etag if there else None)
        except PreconditionFailed:
            rejected[name] = (
                "someone else pushed to it meanwhile (its ref changed under the "
                "compare-and-swap); pull and push again"
            )
            continue
        updated[name] = commit_hash
        local.tracking.record(remote.name, name, commit_hash)
    return updated
