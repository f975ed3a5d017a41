"""``CoralCheckpoint``: a Lightning callback that records the training as a run.

::

    trainer = L.Trainer(max_epochs=3, callbacks=[CoralCheckpoint(repo, run="mlp-lr-1e-3")])
    trainer.fit(module, data)

It starts (or, when the run exists, resumes) a run named ``run`` or after the trainer's
``default_root_dir``, with the module's ``hparams`` as params; logs
``trainer.callback_metrics`` after every training batch and validation at the global step;
and commits the module (its ``state_dict``, bit-exact) every ``every_n_train_steps`` steps,
or at the end of each training epoch. HEAD never moves. Needs the ``lightning`` extra.
"""

from __future__ import annotations

import os
from typing import Any

from coral.errors import MissingExtraError
from coral.integrations.training_loops import (
    RunLike,
    RunStarter,
    check_every,
    open_run,
    plain_params,
    scalar_metrics,
)

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - exercised without the extra
    raise MissingExtraError.for_extra(
        "Lightning", "lightning", "coral.integrations.lightning"
    ) from None


class CoralCheckpoint(Callback):
    """Records a Lightning ``Trainer.fit`` in a Coral repository (see the module docstring).

    Args:
        repo: the repository.
        run: the run's name (default: the last folder of ``trainer.default_root_dir``).
        every_n_train_steps: commit every N global steps instead of at each epoch's end.
    """

    def __init__(
        self, repo: RunStarter, run: str | None = None, every_n_train_steps: int | None = None
    ) -> None:
        self.repo = repo
        self.run_name = run
        self.every_n_train_steps = check_every("every_n_train_steps", every_n_train_steps)
        self.run: RunLike | None = None
        self._committed_step: int | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.is_global_zero:
            return
        root = os.path.normpath(trainer.default_root_dir)
        name = self.run_name or os.path.basename(root)
        params = dict(getattr(pl_module, "hparams", {}) or {})
        params.setdefault("max_epochs", trainer.max_epochs)
        params.setdefault("max_steps", trainer.max_steps)
        self.run = open_run(self.repo, name, plain_params(params))

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._log(trainer)
        step = trainer.global_step
        if self.every_n_train_steps is not None and step % self.every_n_train_steps == 0:
            self._commit(pl_module, step)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self._log(trainer)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.every_n_train_steps is None:
            self._log(trainer)
            self._commit(pl_module, trainer.global_step)

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._close()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._close()  # the points logged so far stay with the run

    def _log(self, trainer: Any) -> None:
        values = scalar_metrics(trainer.callback_metrics)
        if self.run is not None and values:
            self.run.log(values, step=trainer.global_step)

    def _commit(self, pl_module: Any, step: int) -> None:
        if self.run is None or step == self._committed_step:
            return
        self.run.commit(pl_module, f"{self.run.name}: step {step}", step=step)
        self._committed_step = step

    def _close(self) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None
