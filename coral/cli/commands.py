"""What each ``coral`` subcommand does: parse nothing, print results, return an exit code.
Each is a thin call of the public ``Repository`` API."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from coral.cli.history import print_log
from coral.cli.output import Output
from coral.errors import InvalidValueError
from coral.version_control import Repository

BISECT_UNDECIDED = 2  # git bisect's exit code when only skipped commits are left


def init(repo_path: Path, args: argparse.Namespace, out: Output) -> int:
    target = Path(args.path) if args.path else repo_path
    existed = (target / ".coral").is_dir()
    repo = Repository(target, init=True)
    verb = "Reinitialized existing" if existed else "Initialized empty"
    out.line(f"{verb} Coral repository in {repo.coral_dir}")
    return 0


def status(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    out.line(str(repo.status()))
    return 0


def add(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    from coral.integrations.files import load_weights_file

    total = 0
    for name in args.files:
        if Path(name).is_dir():
            total += _add_folder(repo, Path(name), args.prefix, out, partial=args.partial)
            continue
        loaded = load_weights_file(name, key=args.key)
        weights = loaded.weights
        if args.prefix:
            weights = {f"{args.prefix}{k}": v for k, v in weights.items()}
        repo.stage_weights(weights, partial=args.partial)
        total += len(weights)
        for skipped in loaded.skipped:
            out.error(f"warning: {name}: {skipped!r} is not a tensor; not staged")
        out.line(f"staged {len(weights)} weight(s) from {name}")
    if len(args.files) > 1:
        out.line(f"staged {total} weight(s) in all")
    return 0


def _add_folder(repo: Repository, folder: Path, prefix: str, out: Output, *, partial: bool) -> int:
    """A Hugging Face-style folder: its safetensors shards and the files beside them."""
    from coral.integrations.folders import read_model_folder

    loaded = read_model_folder(folder)
    repo.stage_weights({f"{prefix}{k}": v for k, v in loaded.weights.items()}, partial=partial)
    repo.stage_files(loaded.files)
    for skipped in loaded.skipped:
        out.error(
            f"warning: {folder}: left out {skipped} (another copy of the weights, or too large)"
        )
    out.line(
        f"staged {len(loaded.weights)} weight(s) and {len(loaded.files)} file(s) from {folder}"
    )
    return len(loaded.weights)


def commit(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    made = repo.commit(
        args.message,
        author=args.author,
        allow_empty=args.allow_empty,
        metrics=dict(args.metric) or None,
    )
    where = repo.current_branch or "detached HEAD"
    parent = repo.get_commit(made.parent_hashes[0]) if made.parent_hashes else None
    changes = repo.diff(parent.commit_hash, made.commit_hash) if parent else None
    summary = (
        f"{changes['summary']['total_added']} added, {changes['summary']['total_modified']} "
        f"modified, {changes['summary']['total_removed']} removed"
        if changes
        else f"{len(made.weight_hashes)} weight(s)"
    )
    out.line(f"[{where} {made.short_hash}] {args.message.splitlines()[0]}")
    out.line(f" {summary}")
    return 0


def log(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    if args.all:
        commits = list(repo.version_graph.walk(repo.ref_tips()))[: args.max_count]
    else:
        commits = repo.log(args.max_count, branch=args.ref)
    print_log(out, repo, commits, oneline=args.oneline, graph=args.graph)
    return 0


def show(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    out.line(str(repo.show(args.ref)))
    return 0


def diff(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    a = args.a or "HEAD~1"
    result = repo.diff(a, args.b, stats=args.stats)
    for name in result["added"]:
        out.line(out.paint(f"A  {name}", "green"))
    for name in result["removed"]:
        out.line(out.paint(f"D  {name}", "red"))
    for name, change in sorted(result["modified"].items()):
        line = f"M  {name}"
        stats = change.get("stats") if isinstance(change, dict) else None
        if stats:
            line += (
                f"  rel {stats['relative_l2']:.3g}  cos {stats['cosine_similarity']:.6f}  "
                f"max|d| {stats['max_abs_diff']:.3g}  changed {stats['fraction_changed']:.1%}"
            )
        out.line(out.paint(line, "yellow") if not stats else line)
    s = result["summary"]
    out.line(
        f"{s['total_added']} added, {s['total_modified']} modified, {s['total_removed']} "
        f"removed, {s['total_unchanged']} unchanged"
    )
    return 0


def branch(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    if args.delete or args.force_delete:
        name = args.delete or args.force_delete
        gone = repo.delete_branch(name, force=bool(args.force_delete))
        out.line(f"Deleted branch {gone.name} (was {gone.commit_hash[:8]}).")
        return 0
    if args.name:
        made = repo.create_branch(args.name, from_ref=args.start)
        out.line(f"Created branch {made.name} at {made.commit_hash[:8]}")
        return 0
    current = repo.current_branch
    for b in repo.branch_manager.list_branches():
        mark = "*" if b.name == current else " "
        name = out.paint(b.name, "green") if b.name == current else b.name
        out.line(f"{mark} {name}  {b.commit_hash[:8]}")
    return 0


def checkout(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    if args.create:
        repo.create_branch(args.create, from_ref=args.ref)
        target = args.create
    elif args.ref is None:
        raise InvalidValueError("checkout needs a branch or ref (or -b NAME)")
    else:
        target = args.ref
    made = repo.checkout(target, force=args.force)
    if repo.current_branch:
        out.line(f"Switched to branch '{repo.current_branch}'")
    else:
        out.line(f"HEAD is now at {made.short_hash} {made.metadata.message.splitlines()[0]}")
    return 0


def merge(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    common = dict(
        strategy=args.strategy,
        message=args.message,
        merge_alpha=args.alpha,
        overrides=dict(args.override) or None,
        non_float=args.non_float,
        **dict(args.param),
    )
    plan = repo.merge(args.branch, dry_run=True, **common)
    out.line(str(plan))
    if args.dry_run:
        return 0
    made = repo.merge(args.branch, **common)
    out.line(
        f"[{repo.current_branch or 'detached HEAD'} {made.short_hash}] {made.metadata.message}"
    )
    return 0


def tag(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    if args.delete:
        gone = repo.delete_version(args.name)
        out.line(f"Deleted tag '{gone.name}' (was {gone.commit_hash[:8]})")
        return 0
    version = repo.tag_version(args.name, args.message, dict(args.metric) or None, args.ref)
    out.line(f"Tagged {version.commit_hash[:8]} as {version.name}")
    return 0


def versions(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    for v in repo.list_versions():
        metrics = " ".join(f"{k}={x:g}" for k, x in (v.metrics or {}).items())
        text = f"{out.paint(v.name, 'yellow')}  {v.commit_hash[:8]}  {metrics}".rstrip()
        out.line(text + (f"  {v.description}" if v.description else ""))
    return 0


def export(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    from coral.integrations.npz import save_npz
    from coral.integrations.safetensors import save_safetensors

    commit = repo.get_commit(args.ref)
    weights = repo.get_all_weights(commit.commit_hash)
    target = Path(args.output)
    if target.is_dir() or args.output.endswith("/") or not target.suffix:
        from coral.integrations.folders import write_model_folder

        files = repo.get_files(commit.commit_hash)
        write_model_folder(target, weights, files, {"coral_commit": commit.commit_hash})
        out.line(
            f"Wrote {len(weights)} weight(s) and {len(files)} file(s) of {commit.short_hash} "
            f"to {target}/"
        )
        return 0
    if target.suffix == ".npz":
        save_npz(weights, target)
    elif target.suffix == ".safetensors":
        save_safetensors(weights, target, {"coral_commit": commit.commit_hash})
    else:
        raise InvalidValueError(f"{target}: export writes .safetensors or .npz files")
    out.line(f"Wrote {len(weights)} weight(s) of {commit.short_hash} to {target}")
    return 0


def fsck(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    report = repo.fsck(verify_objects=not args.quick)
    (out.line if report.ok else out.error)(str(report))
    return 0 if report.ok else 1


def gc(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    report = repo.gc(prune=args.prune, dry_run=args.dry_run, reflog_expire=args.reflog_expire)
    out.line(str(report))
    return 0


def blame(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    for entry in repo.blame(args.ref, stats=not args.no_stats).values():
        out.line(str(entry))
    return 0


def reflog(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    name = args.branch or "HEAD"  # as git reflog: HEAD's log unless a branch is named
    for n, entry in enumerate(repo.reflog(name)):
        where = str(entry.new)[:8] if entry.new else "(deleted)"
        out.line(f"{out.paint(where, 'yellow')} {name}@{{{n}}}: {entry.message}  ({entry.time})")
    return 0


def reset(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    target = repo.reset(args.ref)
    if target is None:
        out.line("Unstaged everything")
    else:
        out.line(f"HEAD is now at {target.short_hash} {target.metadata.message.splitlines()[0]}")
    return 0


def stats(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    out.line(str(repo.stats()))
    return 0


def bisect(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    """``coral bisect GOOD BAD -- CMD ARGS``: CMD runs once per candidate with
    ``CORAL_BISECT_COMMIT`` and ``CORAL_REPO`` set; exit 0 means good, 125 skip (git's
    convention), anything else bad. Exits 0 with the first bad commit, or 2 (as git) when
    skipped commits leave it undecided."""
    import os
    import subprocess

    command = args.run[1:] if args.run[:1] == ["--"] else args.run
    if not command:
        raise InvalidValueError(
            "give the test command after --, e.g. coral bisect v1 HEAD -- python eval.py"
        )

    def run(weights: Any) -> bool | None:
        env = {
            **os.environ,
            "CORAL_BISECT_COMMIT": weights.commit.commit_hash,
            "CORAL_REPO": str(repo.path),
        }
        code = subprocess.run(command, env=env, check=False).returncode
        out.line(f"  {weights.commit.short_hash}: exit {code}")
        return None if code == 125 else code == 0

    result = repo.bisect(args.good, args.bad, run)
    out.line(str(result))
    return 0 if result.first_bad is not None else BISECT_UNDECIDED


def demo(start: Path, args: argparse.Namespace, out: Output) -> int:
    from coral.cli.demo import build_demo

    target = Path(args.path) if args.path else start / "coral-demo"
    repo = build_demo(target)
    out.line(f"Built a demo repository in {repo.path}:")
    out.line("  a small MLP trained on two moons, one commit per epoch with loss and accuracy,")
    out.line("  a branch at a higher learning rate, a merge of the two, tags baseline and best.")
    out.line("Try:")
    for line in (
        f"cd {target}",
        "coral log --oneline --graph --all",
        "coral versions",
        "coral diff baseline best --stats",
        "coral blame",
        "coral show best",
    ):
        out.line(f"  {line}")
    out.line("or in Jupyter: %load_ext coral_jupyter, then %coral open . and %coral dag")
    return 0


def runs(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    from coral.runs.table import row_filter, run_rows, sorted_rows

    matches = row_filter(args.filter)
    shown = sorted_rows([r for r in run_rows(repo) if matches(r)], args.sort, args.desc)
    by_name = {info.name: info for info in repo.runs()}
    for row in shown:
        out.line(str(by_name[row.name]))
    if not by_name:
        out.line("no runs yet; start one with repo.start_run(NAME, params=...)")
    return 0


def run(repo: Repository, args: argparse.Namespace, out: Output) -> int:
    (name,) = args.values  # the spec's check: run show NAME
    info = repo.run_info(name)
    out.line(
        f"run {info.name} [{info.status}]"
        + (f", started {info.started_at}" if info.started_at else "")
    )
    for key, value in info.params.items():
        out.line(f"  param  {key} = {value}")
    for key, value in info.metrics.items():
        out.line(f"  metric {key} = {value:.6g}")
    last = "-" if info.last_step is None else info.last_step
    out.line(f"  last step {last}, {info.commits} commit(s)")
    for commit in repo.log(branch=name) if info.head else []:
        meta = commit.metadata.extra.get("run")
        if isinstance(meta, dict) and meta.get("name") == name:
            first = commit.metadata.message.splitlines()[0] if commit.metadata.message else ""
            out.line(f"  {out.paint(commit.short_hash, 'yellow')} step {meta.get('step')}  {first}")
    return 0
