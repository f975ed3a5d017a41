"""What each ``%coral`` subcommand does: a thin call of the public ``Repository`` API that
returns an object with a rich display. No logic of its own beyond parsing and display.

Commands act on a :class:`SessionLike` they are handed (the kernel's
:class:`~coral_jupyter.session.Session`, which runs its lines through :func:`execute`), so this
module does not import the session.
"""

from __future__ import annotations

import argparse
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from IPython.core.error import UsageError

from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError
from coral.runs import Run
from coral.version_control import Repository
from coral_jupyter import namespace as ns
from coral_jupyter.display import (
    BranchList,
    CommitOutcome,
    DiffView,
    LogView,
    MergeOutcome,
    Notice,
    RemoteList,
    RepositorySummary,
    TransferReport,
    VersionList,
)
from coral_jupyter.display.runs import RunTable, SessionStatus
from coral_jupyter.display.views import shapes_of
from coral_jupyter.parser import PARSERS, parse, split, usage
from coral_jupyter.progress import read_weights, stage_with_progress


class SessionLike(Protocol):
    """What a command acts on: the current repository, the means to choose another, and the
    last DAG explorer opened (``%coral metrics`` selects in it)."""

    explorer: Any
    active_run: Run | None

    @property
    def repo(self) -> Repository: ...

    def init(self, path: str | Path | None = None) -> Repository: ...

    def open(self, path: str | Path | None = None) -> Repository: ...


Handler = Callable[[SessionLike, argparse.Namespace, dict[str, Any]], Any]


class Preformatted:
    """Text shown as it is (usage, bisect and blame reports)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        from coral_jupyter.display.html import esc

        return f"<pre>{esc(self.text)}</pre>"


def execute(session: SessionLike, line: str, user_ns: dict[str, Any]) -> Any:
    """Run one ``%coral`` line against ``session``, with ``user_ns`` as the notebook
    namespace. Returns the object to display."""
    command, args = parse(split(line))
    if args is None:
        return _help(command if command != "help" else None)
    return HANDLERS[command](session, args, user_ns)


def _help(command: str | None) -> Preformatted:
    if command is None:
        return Preformatted(usage())
    if command not in PARSERS:
        raise UsageError(f"%coral help: unknown subcommand {command!r}")
    return Preformatted(PARSERS[command].format_help())


def _init(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return RepositorySummary.of(session.init(args.path))


def _open(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return RepositorySummary.of(session.open(args.path))


def _status(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    run = session.active_run
    if run is None:
        return session.repo.status()
    return SessionStatus(session.repo.status(), run.name, run.last_step)


def _add(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    weights = ns.collect(user_ns, args.names)
    stage_with_progress(session.repo, weights, partial=args.partial)
    return session.repo.status()


def _commit(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    if args.names:
        weights = ns.collect(user_ns, args.names)  # every name checked before anything is staged
        stage_with_progress(repo, weights)
    commit = repo.commit(
        args.message,
        tags=args.tag or None,
        allow_empty=args.allow_empty,
        metrics=dict(args.metric) or None,
    )
    return CommitOutcome.of(repo, commit)


def _log(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    if args.max_count is not None and args.max_count < 1:
        raise InvalidValueError("log -n takes a positive number")
    if args.all:  # every branch and tag (and a detached HEAD), as git log --all
        commits = list(itertools.islice(repo.version_graph.walk(repo.ref_tips()), args.max_count))
    else:
        commits = repo.log(max_commits=args.max_count, branch=args.ref)
    return LogView(commits, refs=repo.ref_labels())


def _branch(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    if args.delete or args.force_delete:
        name = args.delete or args.force_delete
        branch = repo.delete_branch(name, force=bool(args.force_delete))
        return Notice(f"Deleted branch {name} (was {branch.commit_hash[:8]})")
    if args.name:
        branch = repo.create_branch(args.name, from_ref=args.start)
        return Notice(f"Created branch {branch.name} at {branch.commit_hash[:8]}")
    return BranchList(repo.branch_manager.list_branches(), repo.current_branch)


def _checkout(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    if args.into is None:
        commit = repo.checkout(args.ref, force=args.force)
        return Notice(_moved(repo, commit.short_hash))
    target = repo.resolve_ref(args.ref)  # an unknown ref fails before anything moves
    load = ns.plan_load(
        user_ns, args.into, read_weights(repo, target, args.ref)
    )  # checked, not applied
    repo.checkout(args.ref, force=args.force)  # staged weights refuse here: nothing loaded
    return Notice(f"{_moved(repo, target[:8])}; {load()}")


def _moved(repo: Repository, short: str) -> str:
    if repo.current_branch:
        return f"Switched to branch {repo.current_branch} ({short})"
    return f"HEAD is now detached at {short}"


def _merge(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    params = dict(args.param)
    overrides = dict(args.override) or None
    common: dict[str, Any] = dict(
        strategy=args.strategy,
        message=args.message,
        merge_alpha=args.alpha,
        overrides=overrides,
        non_float=args.non_float,
        **params,
    )
    plan = repo.merge(args.branch, dry_run=True, **common)
    if args.dry_run:
        return MergeOutcome(plan, None)
    return MergeOutcome(plan, repo.merge(args.branch, **common))


def _tag(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    if args.delete:
        version = repo.delete_version(args.name)
        return Notice(f"Deleted tag {version.name} (was {version.commit_hash[:8]})")
    return repo.tag_version(args.name, args.message, dict(args.metric) or None, args.ref)


def _diff(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    a, b, labels = _diff_refs(repo, args.a, args.b)
    shapes = shapes_of(repo.get_commit(a), repo.get_commit(b))
    return DiffView(repo.diff(a, b, stats=args.stats), *labels, shapes)


def _diff_refs(repo: Repository, a: str | None, b: str | None) -> tuple[str, str, tuple[str, str]]:
    """Refs to compare: A..B, A..HEAD, or HEAD's first parent..HEAD; and their labels."""
    if a is not None:
        return a, b or "HEAD", (a, b or "HEAD")
    head = repo.get_commit("HEAD")
    if not head.parent_hashes:
        raise InvalidValueError("HEAD is the first commit; give refs: %coral diff A [B]")
    return head.parent_hashes[0], "HEAD", ("HEAD~1", "HEAD")


def _show(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return session.repo.show(args.ref)


def _get(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> WeightTensor:
    return session.repo.get_weight(args.weight, args.ref)


def _versions(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return VersionList(session.repo.list_versions())


def _fsck(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return Notice(str(session.repo.fsck(verify_objects=not args.quick)))


def _gc(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    report = session.repo.gc(
        prune=args.prune, dry_run=args.dry_run, reflog_expire=args.reflog_expire
    )
    return Notice(str(report))


def _dag(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    from coral_jupyter.widgets import DagExplorer

    explorer = DagExplorer(session.repo)
    if args.branch:
        explorer.filter_branch(args.branch)
    session.explorer = explorer  # %coral metrics selects in it
    return explorer


def _diffview(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    from coral_jupyter.widgets import DiffViewer

    a, b, _ = _diff_refs(session.repo, args.a, args.b)
    viewer = DiffViewer(session.repo, a, b)
    if args.tensor:
        viewer.select_tensor(args.tensor)
    return viewer


def _metrics(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    from coral_jupyter.widgets import MetricsPlot

    return MetricsPlot(session.repo, explorer=session.explorer)


def _remote(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = session.repo
    if args.action == "add":
        if not args.name or not args.url:
            raise UsageError("usage: %coral remote add NAME URL")
        repo.add_remote(args.name, args.url)
    elif args.action == "remove":
        if not args.name:
            raise UsageError("usage: %coral remote remove NAME")
        repo.remove_remote(args.name)
    return RemoteList(repo.list_remotes())


def _push(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    result = session.repo.push(args.remote, force=args.force, branch=args.branch)
    return TransferReport(f"Pushed to {args.remote}", {"push": result})


def _pull(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    result = session.repo.pull(args.remote, force=args.force)
    return TransferReport(f"Pulled from {args.remote}", {"pull": result})


def _sync(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    result = session.repo.sync(args.remote)
    state = "in sync" if result["is_synced"] else "not in sync"
    return TransferReport(
        f"Synced with {args.remote}: {state}", {"pull": result["pull"], "push": result["push"]}
    )


def _clone(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    repo = Repository.clone(args.url, args.path)
    session.open(repo.path)
    return RepositorySummary.of(session.repo)


def _callable(user_ns: dict[str, Any], name: str | None, option: str) -> Any:
    if name is None:
        return None
    found = user_ns.get(name)
    if not callable(found):
        raise UsageError(f"{option} {name}: no function of that name in the notebook")
    return found


def _bisect(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return Preformatted(
        str(
            session.repo.bisect(
                args.good,
                args.bad,
                _callable(user_ns, args.test, "--test"),
                metric=_callable(user_ns, args.metric, "--metric"),
                threshold=args.threshold,
                bad_if=args.bad_if,
            )
        )
    )


def _blame(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return Preformatted("\n".join(str(e) for e in session.repo.blame(args.ref).values()))


def _help_command(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return _help(args.command)


def _runs(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    from coral_jupyter.widgets import RunsTable

    return RunsTable(
        session.repo,
        args.sort,
        descending=args.desc,
        filter=args.filter,
        explorer=session.explorer,
    )


def _compare(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    from coral_jupyter.widgets import RunComparison

    return RunComparison(session.repo, args.a, args.b, strategy=args.strategy)


def _run(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    return _RUN_ACTIONS[args.action](session, args, user_ns)


def _run_start(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    if session.active_run is not None:
        raise UsageError(
            f"run {session.active_run.name!r} is active in this session; end it first with "
            "%coral run end"
        )
    (name,) = args.values
    run = session.repo.start_run(
        name, dict(args.param) or None, from_ref=args.from_ref, resume=args.resume
    )
    session.active_run = run
    params = ", ".join(f"{k}={v}" for k, v in run.params.items())
    verb = "Resumed" if args.resume else "Started"
    return Notice(f"{verb} run {name}" + (f" ({params})" if params else ""))


def _active(session: SessionLike) -> Run:
    if session.active_run is None:
        raise UsageError("no active run: start one with %coral run start NAME")
    return session.active_run


def _point(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(value)  # "nan" and "inf" too: a diverged loss is a fact
    except ValueError:
        raise UsageError(f"run log takes NAME=NUMBER, got {text!r}") from None


def _run_log(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    run = _active(session)
    values = dict(_point(v) for v in args.values)
    step = run.log(values, step=args.step)
    shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
    return Notice(f"run {run.name}, step {step}: {shown}")


def _run_commit(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    run = _active(session)
    names = args.values or [ns.single_model(user_ns)]
    weights = ns.collect(user_ns, names)
    commit = run.commit(weights, args.message, step=args.step)
    assert commit is not None  # not in the background
    return CommitOutcome.of(session.repo, commit, branch=run.name)


def _run_end(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    run = _active(session)
    run.close()
    session.active_run = None
    info = session.repo.run_info(run.name)
    step = "-" if info.last_step is None else info.last_step
    return Notice(f"Ended run {run.name}: {info.commits} commit(s), last step {step}")


def _run_show(session: SessionLike, args: argparse.Namespace, user_ns: dict[str, Any]) -> Any:
    (name,) = args.values
    return RunTable([session.repo.run_info(name)])


_RUN_ACTIONS: dict[str, Handler] = {
    "start": _run_start,
    "log": _run_log,
    "commit": _run_commit,
    "end": _run_end,
    "show": _run_show,
}


HANDLERS: dict[str, Handler] = {
    "init": _init,
    "open": _open,
    "status": _status,
    "add": _add,
    "commit": _commit,
    "log": _log,
    "branch": _branch,
    "checkout": _checkout,
    "merge": _merge,
    "tag": _tag,
    "diff": _diff,
    "show": _show,
    "get": _get,
    "versions": _versions,
    "remote": _remote,
    "push": _push,
    "pull": _pull,
    "sync": _sync,
    "clone": _clone,
    "bisect": _bisect,
    "blame": _blame,
    "fsck": _fsck,
    "gc": _gc,
    "dag": _dag,
    "diffview": _diffview,
    "metrics": _metrics,
    "runs": _runs,
    "compare": _compare,
    "run": _run,
    "help": _help_command,
}
