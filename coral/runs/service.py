"""``Runs``: starting, resuming and listing a repository's runs (see :mod:`coral.runs.run`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from coral.errors import ConcurrentUpdateError, InvalidValueError, RefExistsError, RefNotFoundError
from coral.history.service import History
from coral.records.parts import RepositoryParts
from coral.records.refnames import check_ref_name
from coral.runs import registry
from coral.runs.history import run_commits, run_meta, run_points
from coral.runs.params import check_params
from coral.runs.points import Points, latest
from coral.runs.record import (
    RunRecord,
    journal_key,
    new_record,
    read_record,
    run_names,
    write_record,
)
from coral.runs.run import Run
from coral.workspace.refs import Refs


@dataclass(frozen=True)
class RunInfo:
    """One run as ``repo.runs()`` lists it.

    Attributes:
        params: its hyperparameters.
        metrics: each metric's latest value (at its highest step).
        commits: how many commits the run made.
        last_step: the highest step logged or committed (None: nothing yet).
        head: the commit its branch points at (None before its first commit).
        status: ``"active"`` (a process has it open), ``"closed"``, or ``"committed"`` (known
            only from its commits, as in a clone).
        started_at: when it was started here (ISO 8601; None when known only from commits).
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    commits: int = 0
    last_step: int | None = None
    head: str | None = None
    status: str = "committed"
    started_at: str | None = None

    def __str__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        metrics = ", ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        step = "-" if self.last_step is None else self.last_step
        return (
            f"{self.name} [{self.status}] step {step}, {self.commits} commit(s)"
            + (f"; {params}" if params else "")
            + (f"; {metrics}" if metrics else "")
        )


class Runs:
    """The runs of one repository."""

    def __init__(self, parts: RepositoryParts, history: History, refs: Refs) -> None:
        self._parts = parts
        self._history = history
        self._refs = refs

    def start_run(
        self,
        name: str,
        params: dict[str, Any] | None = None,
        *,
        from_ref: str | None = None,
        resume: bool = False,
    ) -> Run:
        """Start a run: a new branch ``name`` at ``from_ref`` (default HEAD) with ``params``;
        with ``resume``, continue an existing run (another process, a new kernel), its
        params kept (new keys added; a changed value is refused).

        Raises:
            RefExistsError: ``name`` is already a branch (pass ``resume=True``).
            InvalidValueError: ``name`` is a tag, or params are not JSON values.
            RefNotFoundError: ``resume`` of a run that does not exist.
            ConcurrentUpdateError: the run is open in this process or another live one.
        """
        check_ref_name(name)
        given = check_params(params)
        current = registry.live(self._parts, name)
        if current is not None:
            if not resume:
                raise ConcurrentUpdateError(
                    f"run {name!r} is already open in this process; use that Run, or "
                    f"repo.start_run({name!r}, resume=True) to close it and go on"
                )
            current.close()  # a notebook cell run again takes its run over
        if not registry.reserve(self._parts, name):
            raise ConcurrentUpdateError(f"run {name!r} is being opened by another thread")
        try:
            with self._parts.lock.hold():  # the checks, the branch and the record: one step
                record = read_record(self._parts.records, name)
                if record is not None and record.held_elsewhere():
                    raise ConcurrentUpdateError(
                        f"run {name!r} is open in process {record.pid} on {record.host}; "
                        "close it there, or wait for that process to end"
                    )
                if resume:
                    record = self._resumed(name, record, given, from_ref)
                else:
                    record = self._started(name, given, from_ref)
                write_record(self._parts.records, record)
            run = Run(self._parts, self._history, record)
        except BaseException:
            registry.release(self._parts, name)
            raise
        registry.opened(run, self._parts)
        return run

    def _started(self, name: str, params: dict[str, Any], from_ref: str | None) -> RunRecord:
        if self._history.is_branch(name):
            raise RefExistsError(
                f"branch {name!r} exists; continue that run with "
                f"repo.start_run({name!r}, resume=True), or pick another name"
            )
        unborn = from_ref is None and self._parts.refs.head().commit_hash is None
        start = None
        if not unborn:  # in an empty repository the run's first commit makes the branch
            start = self._refs.create_branch(name, from_ref).commit_hash
        elif self._history.is_tag(name):  # as create_branch refuses it
            raise InvalidValueError(f"{name!r} is already a tag; pick another run name")
        self._parts.records.delete(journal_key(name))  # an earlier run of that name
        return new_record(name, params, start)

    def _resumed(
        self, name: str, record: RunRecord | None, params: dict[str, Any], from_ref: str | None
    ) -> RunRecord:
        if from_ref is not None:
            raise InvalidValueError("from_ref starts a new run; a resumed run goes on from its tip")
        exists = self._history.is_branch(name)
        if record is None and not exists:
            raise RefNotFoundError(
                f"no run {name!r} to resume; start it with repo.start_run({name!r}, params=...)"
            )
        if record is None:  # known from its commits only (a clone): recreate the record
            meta = run_meta(self._history.commit(name), name) or {}
            recorded = meta.get("params") if isinstance(meta.get("params"), dict) else {}
            record = new_record(name, dict(recorded or {}), None)
        changed = sorted(k for k in params if k in record.params and record.params[k] != params[k])
        if changed:
            was = ", ".join(f"{k}={record.params[k]!r}" for k in changed)
            raise InvalidValueError(
                f"run {name!r} was started with {was}; a resumed run keeps its params (start "
                "a new run to change them)"
            )
        return replace(record, params={**record.params, **params}).opened_here()

    def runs(self) -> list[RunInfo]:
        """Every run: those started here and those whose commits came with the history
        (a branch whose tip is a run commit of that name), by name."""
        names = set(run_names(self._parts.records))
        for branch in self._parts.refs.list_branches():
            if run_meta(self._parts.commits.get(branch.commit_hash), branch.name) is not None:
                names.add(branch.name)
        return [self.run_info(name) for name in sorted(names)]

    def run_info(self, name: str) -> RunInfo:
        """One run (see :class:`RunInfo`); RefNotFoundError when there is no such run."""
        record = read_record(self._parts.records, name)
        commits = list(run_commits(self._history, name))
        if record is None and not commits:
            raise RefNotFoundError(f"no run named {name!r}; list them with repo.runs()")
        points = run_points(self._parts, self._history, name)
        steps = [s for pairs in points.values() for s, _ in pairs]
        tip = (run_meta(commits[0], name) or {}) if commits else {}
        if isinstance(tip.get("step"), int):
            steps.append(tip["step"])
        params = record.params if record else dict(tip.get("params") or {})
        return RunInfo(
            name=name,
            params=params,
            metrics=latest(points),
            commits=len(commits),
            last_step=max(steps) if steps else None,
            head=self._history.resolve(name) if self._history.is_branch(name) else None,
            status=self._status(name, record),
            started_at=record.started_at if record else None,
        )

    def metric_history(self, name: str) -> Points:
        """Run ``name``'s points, open or not (``{"loss": [(step, value), ...]}``, committed
        and journalled); RefNotFoundError when there is no such run."""
        self.run_info(name)  # the helpful error for a name that is no run
        return run_points(self._parts, self._history, name)

    def _status(self, name: str, record: RunRecord | None) -> str:
        if record is None:
            return "committed"
        open_now = record.held_elsewhere() or registry.is_open(self._parts, name)
        return "active" if record.status == "active" and open_now else "closed"
