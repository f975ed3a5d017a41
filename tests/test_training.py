"""The Checkpointer in a real (small) PyTorch training loop."""

from __future__ import annotations

import numpy as np
import pytest

from coral.errors import InvalidValueError
from coral.training import Checkpointer
from coral.version_control import Repository
from tests.helpers import assert_bit_exact

torch = pytest.importorskip("torch")


def _train(ckpt: Checkpointer, model, steps: int, seed: int = 0) -> list[float]:  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        ckpt.step(metrics={"loss": losses[-1]})
    return losses


def test_commits_on_schedule_on_its_branch_and_tags_the_best(repo: Repository) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    ckpt = Checkpointer(repo, model, every_n_steps=10, keep_best=("loss", "min"), branch="run-1")
    losses = _train(ckpt, model, 50)
    assert len(ckpt.commits) == 5
    assert repo.current_branch == "run-1"
    # the first checkpoint of an empty repository stays on main, as the run's start
    assert repo.resolve_ref("main") == ckpt.commits[0].commit_hash
    assert [c.metadata.extra["metrics"]["loss"] for c in ckpt.commits] == [
        pytest.approx(losses[i]) for i in (9, 19, 29, 39, 49)
    ]
    best = ckpt.best
    assert best is not None and best.commit_hash == ckpt.commits[-1].commit_hash  # loss falls
    assert best.metrics == {"loss": pytest.approx(losses[49])}
    saved = repo.get_all_weights(best.commit_hash)
    for name, tensor in model.state_dict().items():
        assert_bit_exact(saved[name].data, tensor.numpy())
    assert ckpt.save("final") is None  # nothing changed since the last checkpoint


def test_epochs_best_by_max_and_plain_mappings(repo: Repository) -> None:
    weights = {"w": np.zeros(3, np.float32)}
    ckpt = Checkpointer(repo, weights, every_n_epochs=2, keep_best=("acc", "max"))
    accs = [0.1, 0.5, 0.4, 0.9, 0.2, 0.3]
    for acc in accs:
        weights["w"] = weights["w"] + 1  # the mapping is read at each commit
        ckpt.epoch_end(metrics={"acc": acc})
    assert len(ckpt.commits) == 3  # epochs 2, 4, 6
    best = ckpt.best
    assert best is not None and best.metrics == {"acc": 0.9}
    assert repo.get_weight("w", best.commit_hash).data.tolist() == [4.0, 4.0, 4.0]
    assert ckpt.commits[0].metadata.message == "checkpoint: step 0, epoch 2"


def test_nothing_due_costs_nothing_and_bad_arguments_fail(repo: Repository) -> None:
    ckpt = Checkpointer(repo, {"w": np.zeros(2)}, every_n_steps=1000)
    for _ in range(999):
        assert ckpt.step() is None
    assert repo.head.commit_hash is None
    with pytest.raises(InvalidValueError):
        Checkpointer(repo, {}, every_n_steps=0)
    with pytest.raises(InvalidValueError):
        Checkpointer(repo, {}, keep_best=("loss", "lowest"))
