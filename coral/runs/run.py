"""``Run``: one line of training with its parameters, its metric curve and its checkpoints.

A run is a branch (its name) plus its parameters and points. It commits through a
:class:`~coral.workspace.workspace.Workspace` bound to its branch, with a staging area of its
own (``staging/runs/<run>.json``), so any number of runs write into one repository at once,
from threads, processes or kernels, and HEAD stays where the user put it. ``log`` journals a
point (see :mod:`coral.runs.journal`); a commit takes the points logged up to it into its
metadata (``metadata.extra["run"]``: name, params, step, the journal position, and the
points), so they travel with push, pull and clone.

A background commit copies the weights in the call and encodes and writes them on a worker
thread; at most one is pending per run (the next call waits for it), and its error, if any,
is raised by the next call, :meth:`Run.wait` or :meth:`Run.close`.
"""

from __future__ import annotations

import functools
import threading
import warnings
import weakref
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any

from coral.errors import CoralError, InvalidValueError
from coral.history.service import History
from coral.integrations.model_files import ModelFiles
from coral.records.commit import Commit
from coral.records.keys import RUN_STAGING
from coral.records.parts import RepositoryParts
from coral.records.staging import StagingArea
from coral.records.tags import check_metrics
from coral.runs import registry
from coral.runs.history import committed_seq, run_commits, run_meta, run_points
from coral.runs.journal import Entry, Journal, as_points
from coral.runs.model_input import model_weights, optimizer_state
from coral.runs.points import Points, check_step, check_values, encode_points, merge_points
from coral.runs.record import RunRecord, journal_key, write_record
from coral.workspace.workspace import Workspace


class Run:
    """A run open for logging and committing; made by ``repo.start_run`` (see the module
    docstring). Use it as a context manager, or call :meth:`close`.

    Attributes:
        name: the run's name, which is its branch.
        params: its hyperparameters.
    """

    def __init__(self, parts: RepositoryParts, history: History, record: RunRecord) -> None:
        self.name = record.name
        self.params = dict(record.params)
        self._parts = parts
        self._history = history
        self._record = record
        staging = StagingArea(parts.records, parts.lock, key=f"{RUN_STAGING}/{self.name}.json")
        staging.unstage()  # what a crashed process staged and never committed
        self._workspace = Workspace(parts, history, staging=staging, branch=self.name)
        self._journal = Journal(parts.records, journal_key(self.name))
        self._lock = threading.Lock()  # log() and commit() from several threads
        self._committed = committed_seq(history, self.name)
        pending = self._journal.entries(self._committed)
        self._seq = max([self._committed, *(e.seq for e in pending)])
        self._last_step = self._resume_step(pending)
        self._pending: Future[Commit] | None = None
        self._made_in_background: list[Commit] = []
        self._error: BaseException | None = None
        self._worker: ThreadPoolExecutor | None = None
        self.closed = False
        # A Run dropped without close() must not keep its journal file open.
        weakref.finalize(self, self._journal.close)

    def _resume_step(self, pending: list[Entry]) -> int | None:
        steps = [e.step for e in pending]
        if self._history.is_branch(self.name):
            meta = run_meta(self._history.commit(self.name), self.name)
            if meta and isinstance(meta.get("step"), int):
                steps.append(meta["step"])
        return max(steps) if steps else None

    # --- logging ---

    def log(self, metrics: dict[str, Any], step: int | None = None) -> int:
        """Record scalar metrics at ``step`` (default: the step after the run's last). Cheap
        (a journal line, no fsync) and durable against the process being killed; NaN and
        infinities are kept. Returns the step."""
        values = check_values(metrics)
        with self._lock:
            self._check_open()
            return self._log(values, step)

    def _log(self, values: dict[str, float], step: int | None) -> int:
        at = self._next_step() if step is None else check_step(step)
        self._seq += 1
        self._journal.append(Entry(self._seq, at, values))
        self._last_step = at if self._last_step is None else max(self._last_step, at)
        return at

    def _next_step(self) -> int:
        return 0 if self._last_step is None else self._last_step + 1

    # --- committing ---

    def commit(
        self,
        model: Any,
        message: str | None = None,
        *,
        step: int | None = None,
        metrics: dict[str, Any] | None = None,
        optimizer: Any = None,
        background: bool = False,
    ) -> Commit | None:
        """Commit ``model`` (a torch module, a state dict, or a dict of arrays) on the run's
        branch, with the points logged since the last commit.

        Args:
            message: default ``"<run>: step N"``.
            step: the step the checkpoint is at (default: the run's last step).
            metrics: finite values (``val_loss``...) logged at ``step`` and kept as the
                commit's metrics, as ``repo.commit(metrics=...)`` keeps them.
            optimizer: a ``torch.optim.Optimizer`` whose state is committed too (so the
                run resumes exactly; ``repo.load_optimizer_state(opt, run.name)``).
            background: copy the weights and return; encoding and writing go on on a
                worker thread (see :meth:`wait`).

        Returns:
            The commit; None with ``background`` (:meth:`wait` returns those commits).
        """
        checked = check_metrics(metrics)
        self._wait_pending()  # at most one pending snapshot; raises its error
        weights = model_weights(model, copy=background)
        state = None if optimizer is None else optimizer_state(optimizer, copy=background)
        with self._lock:
            self._check_open()
            at = check_step(step) if step is not None else (self._last_step or 0)
            if checked:
                self._log(checked, at)
            elif self._last_step is None or at > self._last_step:
                self._last_step = at
            cut = self._seq
            points = as_points(self._journal.entries(self._committed))
        text = message if message is not None else f"{self.name}: step {at}"
        job = functools.partial(self._commit_now, weights, state, text, at, cut, points, checked)
        if not background:
            return job()
        self._pending = self._executor().submit(job)
        return None

    def _commit_now(
        self,
        weights: dict[str, Any],
        optimizer_entries: dict[str, Any] | None,
        message: str,
        step: int,
        seq: int,
        points: Points,
        metrics: dict[str, float] | None,
    ) -> Commit:
        """Stage and commit the (copied) weights with their points: in the caller's thread,
        or on the run's worker."""
        meta = {
            "name": self.name,
            "params": self.params,
            "step": step,
            "seq": seq,
            "metrics": encode_points(merge_points(points)),
        }
        try:
            self._workspace.stage_weights(weights)
            if optimizer_entries is not None:
                files = ModelFiles(self._parts, self._history, self._workspace)
                files.stage_optimizer_entries(optimizer_entries)
            commit = self._workspace.commit(
                message, metrics=metrics, allow_empty=True, extra={"run": meta}
            )
        except BaseException:
            self._workspace.staging.unstage()  # a failed commit leaves nothing for the next
            raise
        self._committed_through(seq)
        return commit

    def _executor(self) -> ThreadPoolExecutor:
        if self._worker is None:
            self._worker = ThreadPoolExecutor(1, thread_name_prefix=f"coral-run-{self.name}")
        return self._worker

    def _committed_through(self, seq: int) -> None:
        """A commit now holds the points up to ``seq``: the journal forgets them."""
        with self._lock:
            self._committed = max(self._committed, seq)
            self._journal.drop_through(self._committed)

    def wait(self) -> list[Commit]:
        """Wait for the pending background commit; the commits made in the background since
        the last ``wait``. Raises the error a background commit met."""
        self._wait_pending()
        made, self._made_in_background = self._made_in_background, []
        return made

    def _wait_pending(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                self._made_in_background.append(pending.result())
            except BaseException as err:
                self._error = err
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    # --- reading ---

    @property
    def last_step(self) -> int | None:
        """The highest step logged or committed (None: nothing yet)."""
        return self._last_step

    def metric_history(self) -> Points:
        """``{"loss": [(step, value), ...], ...}``: every point, committed or not, in step
        order."""
        with self._lock:
            return run_points(self._parts, self._history, self.name)

    def commits(self) -> list[Commit]:
        """The run's commits, newest first."""
        return list(run_commits(self._history, self.name))

    # --- lifetime ---

    def close(self) -> None:
        """Finish: wait for a background commit, make the journal durable, mark the run
        closed (points logged after its last commit stay with the run). Idempotent."""
        if self.closed:
            return
        try:
            self._wait_pending()
        finally:
            with self._lock:
                self.closed = True
                self._journal.sync()
                self._journal.close()
                if self._worker is not None:
                    self._worker.shutdown(wait=True)
                write_record(self._parts.records, self._record.closed())
                registry.release(self._parts, self.name)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except CoralError as error:  # the body's exception is the one to see
            warnings.warn(f"closing run {self.name!r} also failed: {error}", stacklevel=2)

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidValueError(
                f"run {self.name!r} is closed; continue it with "
                f"repo.start_run({self.name!r}, resume=True)"
            )

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"Run({self.name!r}, {state}, step {self._last_step})"
