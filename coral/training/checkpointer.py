"""``Checkpointer``: commit a model from a training loop on a schedule, and tag the best.

::

    ckpt = Checkpointer(repo, model, every_n_steps=500, keep_best=("val_loss", "min"),
                        branch="run-7")
    for step, batch in enumerate(loader):
        ...
        ckpt.step(metrics={"val_loss": val_loss} if step % 500 == 0 else None)
    ckpt.save("final")

A call when nothing is due costs a counter increment and a comparison. The weights are copied
when a commit is due (training can go on while nothing else holds them), stored as deltas
against the previous checkpoint, and committed with the metrics given; the best checkpoint by
``keep_best`` carries the tag ``best`` (moved as better ones come), with its metrics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from coral.errors import InvalidValueError, NothingToCommitError
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
        branch: commit on this branch (created from HEAD if missing, and checked out; in a
            repository without commits, after the first checkpoint, which stays on the
            current branch as the run's starting point).
        best_tag: the tag that follows the best checkpoint.
        message: the commit message, formatted with ``step``, ``epoch`` and the metrics.
        optimizer: a ``torch.optim.Optimizer`` whose state is committed with each checkpoint
            (delta-encoded like the weights), so a run can resume exactly
            (:meth:`restore`).
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
        best_tag: str = "best",
        message: str = "checkpoint: step {step}, epoch {epoch}",
        optimizer: Any = None,
    ) -> None:
        for name, value in (("every_n_steps", every_n_steps), ("every_n_epochs", every_n_epochs)):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise InvalidValueError(f"{name} must be a positive int, got {value!r}")
        if keep_best is not None and (len(keep_best) != 2 or keep_best[1] not in ("min", "max")):
            raise InvalidValueError(f'keep_best must be (metric, "min" | "max"), got {keep_best!r}')
        self.repo = repo
        self.model = model
        self.optimizer = optimizer
        self.every_n_steps = every_n_steps
        self.every_n_epochs = every_n_epochs
        self.keep_best = keep_best
        self.best_tag = best_tag
        self.message = message
        self.steps = 0
        self.epochs = 0
        self.best_value: float | None = None
        self.commits: list[Commit] = []
        self._branch: str | None = None
        if branch is not None:
            self._switch_to(branch)

    def _switch_to(self, branch: str) -> None:
        """Check out ``branch`` (created from HEAD if missing). In a repository with no
        commit yet it is created after the first checkpoint, which then stays on the current
        branch as the run's starting point."""
        self._branch = branch
        if self.repo.head.commit_hash is None:
            return
        if branch not in {b.name for b in self.repo.branch_manager.list_branches()}:
            self.repo.create_branch(branch)
        if self.repo.current_branch != branch:
            self.repo.checkout(branch)

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
        """Commit now. Returns None when the weights did not change since the last commit."""
        values = dict(metrics or {})
        self.repo.stage_weights(self._weights())
        if self.optimizer is not None:
            self.repo.stage_optimizer_state(self.optimizer)
        text = message or self.message.format(step=self.steps, epoch=self.epochs, **values)
        try:
            commit = self.repo.commit(text, metrics=values or None)
        except NothingToCommitError:
            return None
        self.commits.append(commit)
        self._maybe_tag(commit, values)
        if self._branch is not None and self.repo.current_branch != self._branch:
            self._switch_to(self._branch)  # the first commit of an empty repository
        return commit

    def restore(self, ref: str = "HEAD") -> Commit:
        """Load a checkpoint back: the weights into the model (strictly, bit-exact) and,
        when there is an optimizer, its state. Returns the commit restored."""
        commit = self.repo.get_commit(ref)
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

    def _weights(self) -> Mapping[str, Any]:
        if isinstance(self.model, Mapping):
            return self.model
        from coral.integrations.pytorch import pytorch_to_coral

        return pytorch_to_coral(self.model)

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
