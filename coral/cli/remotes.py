"""``coral remote``, ``push``, ``pull``, ``clone``: the remote methods, printed like git."""

from __future__ import annotations

import argparse
from pathlib import Path

from coral.cli.output import Output
from coral.errors import NonFastForwardError
from coral.remote import PullResult, PushResult, TransferResult
from coral.version_control import Repository


def remote(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    if args.action == "add":
        repo.add_remote(args.name, args.url)
    elif args.action == "remove":
        repo.remove_remote(args.name)
    else:
        for name, config in repo.list_remotes().items():
            out.line(f"{name}\t{config['url']} ({config['backend']})" if args.verbose else name)
    return 0


def _report(out: Output, result: TransferResult) -> None:
    out.line(str(result))  # the one summary the magics show too
    for name, commit_hash in sorted(result.branches_updated.items()):
        out.line(f"   {name} -> {commit_hash[:8]}")
    if isinstance(result, PullResult):
        for name, why in sorted(result.diverged.items()):
            out.error(f" ! {name}: {why}")
    for name, why in sorted(result.rejected.items()):
        out.error(f" ! [rejected] {name}: {why}")


def push(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    try:
        result = repo.push(args.remote, force=args.force, branch=args.branch)
    except NonFastForwardError as err:
        # A refused push carries what it did push (coral.errors types it as a mapping).
        if isinstance(err.result, PushResult):
            _report(out, err.result)
        out.error(f"error: failed to push some refs to {args.remote!r}")
        out.error("hint: pull first (coral pull), merge, then push again; or push --force")
        return 1
    _report(out, result)
    return 0


def pull(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    result = repo.pull(args.remote, force=args.force)
    _report(out, result)
    return 1 if result.diverged else 0


def clone(start: Path, args: argparse.Namespace, out: Output) -> int:
    target = start / (args.path or _name_from(args.url))  # relative to -C, as in git
    out.line(f"Cloning into '{target}'...")
    repo = Repository.clone(args.url, target, remote_name=args.origin)
    commits = len(repo.version_graph.commits())
    out.line(f"{commits} commit(s), branch '{repo.current_branch}' checked out")
    return 0


def _name_from(url: str) -> str:
    tail = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return tail or "coral-repo"
