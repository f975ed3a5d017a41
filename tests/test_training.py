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


def _adam_run(model, opt, steps: int) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(1)
    x = torch.randn(64, 4)
    y = x.sum(dim=1, keepdim=True)
    for _ in range(steps):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()


def _bits(state_dict: dict) -> list[tuple[object, ...]]:  # type: ignore[type-arg]
    """Every tensor of an optimizer state as bytes; everything else as is."""
    out: list[tuple[object, ...]] = []
    for index, values in sorted(state_dict["state"].items()):
        for key, value in sorted(values.items()):
            shown = (value.dtype, value.numpy().tobytes()) if torch.is_tensor(value) else value
            out.append((index, key, shown))
    return [*out, ("groups", repr(state_dict["param_groups"]))]


def test_optimizer_state_resumes_a_run_exactly(repo: Repository) -> None:
    """Save at step 5, train on to 10; restore step 5 into fresh objects and train to 10
    again: the weights and Adam's moments come out bit-identical."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, betas=(0.8, 0.95))
    ckpt = Checkpointer(repo, model, every_n_steps=5, optimizer=opt)
    for _ in range(10):
        _adam_run(model, opt, 1)
        ckpt.step()
    assert len(ckpt.commits) == 2
    assert "__optimizer__/structure.json" not in repo.get_all_weights()  # not a weight

    model2 = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    opt2 = torch.optim.AdamW(model2.parameters(), lr=0.5)
    Checkpointer(repo, model2, optimizer=opt2).restore(ckpt.commits[0].commit_hash)
    assert opt2.param_groups[0]["lr"] == 1e-2 and tuple(opt2.param_groups[0]["betas"]) == (
        0.8,
        0.95,
    )
    _adam_run(model2, opt2, 5)
    assert _bits(opt2.state_dict()) == _bits(opt.state_dict())
    for (name, a), (_, b) in zip(
        model.state_dict().items(), model2.state_dict().items(), strict=True
    ):
        assert a.numpy().tobytes() == b.numpy().tobytes(), name


def test_optimizer_state_is_stored_as_deltas_and_checked_on_load(repo: Repository) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(256, 256)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    _adam_run_wide = lambda: (  # noqa: E731
        opt.zero_grad(),
        model(torch.randn(8, 256)).square().mean().backward(),
        opt.step(),
    )
    _adam_run_wide()
    first = repo.stage_optimizer_state(opt)
    repo.commit("step 1")
    _adam_run_wide()
    second = repo.stage_optimizer_state(opt)
    repo.commit("step 2")
    moment = "__optimizer__/state/0/exp_avg_sq"
    assert repo.store.info(second[moment]).bases == (first[moment],)  # a delta
    with pytest.raises(InvalidValueError, match="are reserved"):
        repo.stage_weights({moment: np.zeros(2)})
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(InvalidValueError, match="Adam"):
        repo.load_optimizer_state(sgd)
    plain = Repository(repo.path)
    plain.stage_weights({"w": np.ones(2)}, partial=True)
    plain.commit("one more weight")  # a partial update carries the optimizer state forward
    fresh = torch.optim.Adam(model.parameters(), lr=1.0)
    plain.load_optimizer_state(fresh)
    assert _bits(fresh.state_dict()) == _bits(opt.state_dict())
    plain.stage_weights({"w": np.zeros(2)})
    plain.commit("new weights, no optimizer")  # a snapshot never pairs them with old moments
    with pytest.raises(InvalidValueError, match="holds no optimizer state"):
        plain.load_optimizer_state(fresh)
