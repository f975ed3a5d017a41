"""``CoralCallback``: a Hugging Face ``Trainer`` callback that records the training as a run.

::

    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[CoralCallback(repo, run="bert-lr-3e-4")])
    trainer.train()

It starts (or, when the run exists, resumes) a run named ``run`` or after ``args.output_dir``,
records the training arguments that matter and the model's config as the run's params, logs
every ``on_log`` at the global step, and commits the model on every ``on_save`` (or every
``every_n_steps`` steps), bit-exact; HEAD never moves. It is what ``report_to="wandb"`` is for
W&B users. Needs the ``transformers`` extra (and ``accelerate``, which the Trainer needs).
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
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover - exercised without the extra
    raise MissingExtraError.for_extra(
        "Hugging Face transformers", "transformers", "coral.integrations.transformers"
    ) from None

ARGUMENTS = (
    "learning_rate",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "gradient_accumulation_steps",
    "num_train_epochs",
    "max_steps",
    "weight_decay",
    "warmup_steps",
    "warmup_ratio",
    "lr_scheduler_type",
    "optim",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "max_grad_norm",
    "seed",
    "fp16",
    "bf16",
)
"""The ``TrainingArguments`` recorded as params: what changes a run's outcome."""


class CoralCallback(TrainerCallback):
    """Records a ``Trainer`` run in a Coral repository (see the module docstring).

    Args:
        repo: the repository.
        run: the run's name (default: the last folder of ``args.output_dir``).
        every_n_steps: commit every N global steps instead of at each ``on_save``.
    """

    def __init__(
        self, repo: RunStarter, run: str | None = None, every_n_steps: int | None = None
    ) -> None:
        self.repo = repo
        self.run_name = run
        self.every_n_steps = check_every("every_n_steps", every_n_steps)
        self.run: RunLike | None = None
        self._committed_step: int | None = None

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **_: Any
    ) -> None:
        if not state.is_world_process_zero:
            return
        name = self.run_name or os.path.basename(os.path.normpath(args.output_dir))
        params = {k: getattr(args, k) for k in ARGUMENTS if hasattr(args, k)}
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_diff_dict"):
            params["model"] = config.to_diff_dict()
        self.run = open_run(self.repo, name, plain_params(params))

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
        values = scalar_metrics(logs or {})
        if self.run is not None and values:
            self.run.log(values, step=state.global_step)

    def on_save(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> None:
        if self.every_n_steps is None:
            self._commit(model, state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **_: Any) -> None:
        if self.every_n_steps is not None and state.global_step % self.every_n_steps == 0:
            self._commit(model, state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
        if self.run is not None:
            self.run.close()
            self.run = None

    def _commit(self, model: Any, step: int) -> None:
        if self.run is None or model is None or step == self._committed_step:
            return
        self.run.commit(model, f"{self.run.name}: step {step}", step=step)
        self._committed_step = step
