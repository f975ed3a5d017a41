"""``Checkpointer``: commit a model from a training loop on a schedule, and tag the best.

::

    ckpt = Checkpointer(repo, model, every_n_steps=500, keep_best=("val_loss", "min"),
                        branch="run-7", params={"lr": 3e-4})
    for step, batch in enumerate(loader):
        ...
        ckpt.step(metrics={"val_loss": val_loss} if step % 500 == 0 else None)
    ckpt.close()

With ``branch`` (or ``run``) it is built on a run (:mod:`coral.runs`): its commits go to the
run's branch, never moving HEAD or touching another run, so several Checkpointers (a sweep)
write into one repository at once; a Checkpointer on an existing run resumes it. Without
either, it commits where HEAD points, as ``repo.commit`` does.

A call when nothing is due costs a counter increment and a comparison. The weights are copied
when a commit is due, stored as deltas against the previous checkpoint, and committed with
the metrics given; the best checkpoint by ``keep_best`` carries a tag (``best``, or
``<run>-best`` on a run) moved only when a better one comes, also across restarts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

from coral.errors import InvalidValueError, NothingToCommitError
from coral.runs import Run
from coral.version_control import Commit, Repository, Version


class Checkpointer:
    """Commits ``model`` every N steps and/or epochs; tags the best by a metric.

    Args:
        repo: the repository.
        model: a ``torch.nn.Module``, a state dict, or a mapping of name -> array; read
            each time a commit is due.
        every_n_steps, every_n_epochs: the schedule (either, both, or neither: then only
            :meth:`save` commits).
        keep_best: ``(metric, "min" | "max")``: tag the best checkpoint ``best_tag``.
        branch: the run to commit to: started (from HEAD, with ``params``) when the branch
            does not exist, resumed when it does. HEAD does not move.
        run: a :class:`~coral.runs.Run` to commit to instead (left open by :meth:`close`).
        params: the run's hyperparameters, when ``branch`` starts one.
        best_tag: the tag that follows the best checkpoint (default ``best``, or
            ``<run>-best`` on a run, so two runs never move each other's).
        message: the commit message, formatted with ``step``, ``epoch`` and the metrics.
        optimizer: a ``torch.optim.Optimizer`` whose state is committed with each checkpoint
            (delta-encoded like the weights), so a run can resume exactly
            (:meth:`restore`).
        background: on a run, commit in the background (the call copies the weights and
            returns; see :meth:`coral.runs.Run.commit`).
    """

    def __init__(
        self,
        repo: Repository,
        model: Any,
        *,
        every_n_steps: int | None = None,
        every_n_epochs: int | None = None,
        keep_best: tuple[str, str] | None = None,
        branch: str | None = None,
        run: Run | None = None,
        params: Mapping[str, Any] | None = None,
        best_tag: str | None = None,
        message: str = "checkpoint: step {step}, epoch {epoch}",
        optimizer: Any = None,
        background: bool = False,
    ) -> None:
        for name, value in (("every_n_steps", every_n_steps), ("every_n_epochs", every_n_epochs)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
        if keep_best is not None and (len(keep_best) != 2 or keep_best[1] not in ("min", "max")):
            raise InvalidValueError(f'keep_best must be (metric, "min" | "max"), got {keep_best!r}')
        if branch is not None and run is not None:
            raise InvalidValueError("pass branch= (a run by name) or run=, not both")
        if background and branch is None and run is None:
            raise InvalidValueError("background commits need a run: pass branch= or run=")
        self.repo = repo
        self.model = model
        self.optimizer = optimizer
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs
        self.keep_best = keep_best
        self.message = message
        self.background = background
        self._owns_run = run is None and branch is not None
        if self._owns_run:
            assert branch is not None
            exists = branch in {b.name for b in repo.branch_manager.list_branches()}
            run = repo.start_run(branch, dict(params or {}), resume=exists)
        self.run = run
        self.best_tag = best_tag or ("best" if run is None else f"{run.name}-best")
        self.steps = 0 if run is None or run.last_step is None else run.last_step
        self.epochs = 0
        self.best_value = self._recorded_best()
        self.commits: list[Commit] = []
        self._waiting: list[dict[str, float]] = []  # metrics of background commits, in order

    # --- the loop's calls ---

    def step(
        self, step: int | None = None, metrics: Mapping[str, float] | None = None
    ) -> Commit | None:
        """Call once per training step; commits when the step schedule says so."""
        self.steps = self.steps + 1 if step is None else step
        if self.every_n_steps is None or self.steps % self.every_n_steps:
            return None
        return self.save(metrics=metrics)

    def epoch_end(
        self, epoch: int | None = None, metrics: Mapping[str, float] | None = None
    ) -> Commit | None:
        """Call at the end of each epoch; commits when the epoch schedule says so."""
        self.epochs = self.epochs + 1 if epoch is None else epoch
        if self.every_n_epochs is None or self.epochs % self.every_n_epochs:
            return None
        return self.save(metrics=metrics)

    def save(
        self, message: str | None = None, metrics: Mapping[str, float] | None = None
    ) -> Commit | None:
        """Commit now. Returns the commit; None in the background (then the commit is in
        :attr:`commits` once done) and, without a run, when the weights did not change.

        Metrics that are not finite (a diverged loss) are recorded on a run as points but
        are not the commit's metrics and never become the best; ``step`` in the metrics is
        the checkpoint's own position and is not recorded twice.
        """
        values = {k: v for k, v in (metrics or {}).items() if k != "step"}
        finite = {k: float(v) for k, v in values.items() if _finite(v)}
        text = message or self._message(values)
        if self.run is not None:
            return self._save_on_run(text, values, finite)
        self.repo.stage_weights(self._weights())
        if self.optimizer is not None:
            self.repo.stage_optimizer_state(self.optimizer)
        try:
            commit = self.repo.commit(text, metrics=finite or None)
        except NothingToCommitError:
            return None
        self._made(commit, finite)
        return commit

    def _save_on_run(
        self, text: str, values: dict[str, Any], finite: dict[str, float]
    ) -> Commit | None:
        assert self.run is not None
        self._collect()  # tags what earlier background commits made
        others = {k: v for k, v in values.items() if k not in finite}
        if others:  # NaN and infinities are points of the curve, not commit metrics
            self.run.log(others, step=self.steps)
        commit = self.run.commit(
            self.model,
            text,
            step=self.steps,
            metrics=finite or None,
            optimizer=self.optimizer,
            background=self.background,
        )
        if commit is None:
            self._waiting.append(finite)
            return None
        self._made(commit, finite)
        return commit

    def _collect(self) -> None:
        """Take in the commits background saves made (raising their error, if any)."""
        if self.run is None or not self.background:
            return
        made = self.run.wait()
        waiting, self._waiting = self._waiting, []
        for commit, finite in zip(made, waiting, strict=False):
            self._made(commit, finite)

    def _made(self, commit: Commit, metrics: Mapping[str, float]) -> None:
        self.commits.append(commit)
        self._maybe_tag(commit, metrics)

    def close(self) -> None:
        """Wait for a background commit and tag it; close the run this Checkpointer
        started (a run handed in stays open)."""
        try:
            self._collect()
        finally:
            if self._owns_run and self.run is not None:
                self.run.close()

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def restore(self, ref: str | None = None) -> Commit:
        """Load a checkpoint back (default: the run's tip, or HEAD): the weights into the
        model (strictly, bit-exact) and, when there is an optimizer, its state. Returns the
        commit restored."""
        commit = self.repo.get_commit(ref or (self.run.name if self.run else "HEAD"))
        weights = self.repo.get_all_weights(commit.commit_hash)
        if isinstance(self.model, Mapping):
            raise InvalidValueError(
                "restore() loads into a torch module; with a dict of arrays, read the "
                "checkpoint with repo.get_all_weights(ref)"
            )
        from coral.integrations.pytorch import load_into

        load_into(self.model, weights)
        if self.optimizer is not None:
            self.repo.load_optimizer_state(self.optimizer, commit.commit_hash)
        return commit

    @property
    def best(self) -> Version | None:
        """The best checkpoint's tag, if one was made."""
        versions = {v.name: v for v in self.repo.list_versions()}
        return versions.get(self.best_tag)

    # --- internals ---

    def _message(self, values: Mapping[str, Any]) -> str:
        fields = {**values, "step": self.steps, "epoch": self.epochs}
        try:
            return self.message.format_map(fields)
        except (KeyError, IndexError, ValueError) as err:
            raise InvalidValueError(
                f"the message {self.message!r} names {err} that is not step, epoch or a "
                f"metric given ({', '.join(values) or 'none'})"
            ) from None

    def _weights(self) -> Mapping[str, Any]:
        if isinstance(self.model, Mapping):
            return self.model
        from coral.integrations.pytorch import pytorch_to_coral

        return pytorch_to_coral(self.model)

    def _recorded_best(self) -> float | None:
        """The best value the tag already records (a restarted run keeps its best)."""
        best = self.best
        if self.keep_best is None or best is None or not best.metrics:
            return None
        value = best.metrics.get(self.keep_best[0])
        return float(value) if value is not None else None

    def _maybe_tag(self, commit: Commit, metrics: Mapping[str, float]) -> None:
        if self.keep_best is None:
            return
        name, mode = self.keep_best
        value = metrics.get(name)
        if value is None or not math.isfinite(float(value)):
            return
        better = (
            self.best_value is None
            or (mode == "min" and value < self.best_value)
            or (mode == "max" and value > self.best_value)
        )
        if not better:
            return
        self.best_value = float(value)
        if self.best is not None:
            self.repo.delete_version(self.best_tag)
        self.repo.tag_version(
            self.best_tag, f"best {name} ({mode}) so far", dict(metrics), commit.commit_hash
        )


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return math.isfinite(float(value))
