"""The Hugging Face Trainer callback and the Lightning callback, end to end with real tiny
models built from a config (nothing downloaded): each training is a run with its params,
its logged curve and bit-exact checkpoints; HEAD never moves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coral.version_control import Repository

torch = pytest.importorskip("torch")


def _assert_bit_exact_model(repo: Repository, ref: str, model: object) -> None:
    saved = repo.get_all_weights(ref)
    state = model.state_dict()  # type: ignore[attr-defined]
    assert set(saved) == set(state)
    for name, tensor in state.items():
        expected = tensor.detach().cpu().contiguous()
        assert saved[name].data.tobytes() == expected.view(torch.uint8).numpy().tobytes(), name


def test_the_trainer_callback_records_params_curve_and_checkpoints(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from coral.integrations.transformers import CoralCallback

    config = transformers.BertConfig(
        vocab_size=40,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=16,
        num_labels=2,
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    generator = torch.Generator().manual_seed(0)
    data = [
        {
            "input_ids": torch.randint(0, 40, (8,), generator=generator),
            "labels": torch.tensor(i % 2),
        }
        for i in range(32)
    ]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "bert-tiny"),
        max_steps=6,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        logging_steps=2,
        save_steps=3,
        save_strategy="steps",
        report_to=[],
        use_cpu=True,
        seed=7,
        disable_tqdm=True,
    )
    repo.stage_weights({"seed": np.zeros(1, np.float32)})
    repo.commit("before training")
    head = repo.head
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, callbacks=[CoralCallback(repo)]
    )
    trainer.train()

    assert repo.head == head
    info = repo.run_info("bert-tiny")  # named after the output dir
    assert info.status == "closed" and info.commits == 2  # on_save at steps 3 and 6
    assert info.params["learning_rate"] == 1e-3 and info.params["seed"] == 7
    assert info.params["per_device_train_batch_size"] == 4
    assert info.params["model"]["hidden_size"] == 32
    commits = repo.log(branch="bert-tiny")[:2]
    assert [c.metadata.extra["run"]["step"] for c in commits] == [6, 3]
    run = repo.start_run("bert-tiny", resume=True)
    loss = run.metric_history()["loss"]
    run.close()
    assert [step for step, _ in loss] == [2, 4, 6]
    _assert_bit_exact_model(repo, "bert-tiny", model)  # the final model, bit for bit


def test_the_lightning_callback_records_params_curve_and_checkpoints(
    repo: Repository, tmp_path: Path
) -> None:
    lightning = pytest.importorskip("lightning")
    from coral.integrations.lightning import CoralCheckpoint

    class Regression(lightning.LightningModule):  # type: ignore[misc, name-defined]
        def __init__(self, lr: float = 0.05, hidden: int = 8) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
            )

        def training_step(self, batch: tuple, batch_idx: int) -> object:  # type: ignore[type-arg]
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self) -> object:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=16, shuffle=False
    )
    module = Regression()
    trainer = lightning.Trainer(
        max_epochs=3,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=str(tmp_path / "mlp"),
        callbacks=[CoralCheckpoint(repo, run="mlp-sgd")],
    )
    trainer.fit(module, loader)

    assert repo.head.branch == "main" and repo.head.commit_hash is None
    info = repo.run_info("mlp-sgd")
    assert info.status == "closed" and info.commits == 3  # one per epoch
    assert info.params["lr"] == 0.05 and info.params["hidden"] == 8
    assert info.params["max_epochs"] == 3
    commits = repo.log(branch="mlp-sgd")
    assert [c.metadata.extra["run"]["step"] for c in commits] == [12, 8, 4]
    run = repo.start_run("mlp-sgd", resume=True)
    curve = run.metric_history()["train_loss"]
    run.close()
    assert [step for step, _ in curve[:3]] == [1, 2, 3] and len(curve) >= 12
    _assert_bit_exact_model(repo, "mlp-sgd", module)


@pytest.mark.parametrize(
    ("blocked", "module", "extra"),
    [("transformers", "transformers", "transformers"), ("lightning", "lightning", "lightning")],
)
def test_the_callbacks_name_their_extra_when_it_is_missing(
    blocked: str, module: str, extra: str
) -> None:
    import subprocess
    import sys

    script = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        f"try:\n    import coral.integrations.{module}\n"
        "except ImportError as err:\n    print(type(err).__name__, err)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "MissingExtraError" in out.stdout, out.stderr
    assert f"pip install 'coral[{extra}]'" in out.stdout, out.stderr
