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


def test_commits_on_schedule_on_its_run_and_tags_the_best(repo: Repository) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    ckpt = Checkpointer(
        repo,
        model,
        every_n_steps=10,
        keep_best=("loss", "min"),
        branch="run-1",
        params={"lr": 0.05},
    )
    losses = _train(ckpt, model, 50)
    ckpt.close()
    assert len(ckpt.commits) == 5
    # a run: its branch moved, HEAD did not (in an empty repository it stays unborn)
    assert repo.current_branch == "main" and repo.head.commit_hash is None
    assert repo.resolve_ref("run-1") == ckpt.commits[-1].commit_hash
    assert [c.metadata.extra["metrics"]["loss"] for c in ckpt.commits] == [
        pytest.approx(losses[i]) for i in (9, 19, 29, 39, 49)
    ]
    assert [c.metadata.extra["run"]["step"] for c in ckpt.commits] == [10, 20, 30, 40, 50]
    info = repo.run_info("run-1")
    assert info.params == {"lr": 0.05} and info.commits == 5
    best = ckpt.best
    assert best is not None and best.name == "run-1-best"
    assert best.commit_hash == ckpt.commits[-1].commit_hash  # loss falls
    assert best.metrics == {"loss": pytest.approx(losses[49])}
    saved = repo.get_all_weights(best.commit_hash)
    for name, tensor in model.state_dict().items():
        assert_bit_exact(saved[name].data, tensor.numpy())


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


def _ramp(value: float) -> dict[str, np.ndarray]:
    return {"w": np.full(3, value, np.float32)}


def test_two_checkpointers_never_interfere(repo: Repository) -> None:
    repo.stage_weights(_ramp(0))
    repo.commit("base")
    a_weights, b_weights = _ramp(1), _ramp(100)
    a = Checkpointer(repo, a_weights, every_n_steps=1, keep_best=("loss", "min"), branch="run-a")
    b = Checkpointer(repo, b_weights, every_n_steps=1, keep_best=("loss", "min"), branch="run-b")
    for step in range(1, 6):  # interleaved, as two kernels would
        a_weights["w"] = _ramp(step)["w"]
        b_weights["w"] = _ramp(100 + step)["w"]
        a.step(metrics={"loss": 1.0 / step})
        b.step(metrics={"loss": float(step)})
    a.close()
    b.close()
    assert repo.current_branch == "main" and len(repo.log()) == 1 and repo.status().clean
    for ckpt, offset in ((a, 0), (b, 100)):
        assert len(ckpt.commits) == 5
        for step, commit in enumerate(ckpt.commits, start=1):
            assert repo.get_weight("w", commit.commit_hash).data.tolist() == [offset + step] * 3
    assert a.best is not None and a.best.metrics == {"loss": 0.2}
    assert b.best is not None and b.best.metrics == {"loss": 1.0}
    assert a.best.commit_hash == a.commits[-1].commit_hash
    assert b.best.commit_hash == b.commits[0].commit_hash


def test_a_resumed_checkpointer_keeps_a_better_best(repo: Repository) -> None:
    weights = _ramp(1)
    with Checkpointer(repo, weights, every_n_steps=1, keep_best=("loss", "min"), branch="r") as c:
        c.step(metrics={"loss": 0.1})
        best = c.best
    assert best is not None
    weights["w"] = _ramp(2)["w"]
    with Checkpointer(repo, weights, every_n_steps=1, keep_best=("loss", "min"), branch="r") as c:
        assert c.steps == 1  # it goes on from the run's last step
        c.step(metrics={"loss": 0.5})  # a restart at a worse loss
        assert c.best is not None and c.best.commit_hash == best.commit_hash
        weights["w"] = _ramp(3)["w"]
        c.step(metrics={"loss": 0.05})
        assert c.best is not None and c.best.commit_hash == c.commits[-1].commit_hash
    assert [cm.metadata.extra["run"]["step"] for cm in repo.log(branch="r")[:3]] == [3, 2, 1]


@pytest.mark.parametrize("branch", [None, "run"])
def test_nan_metrics_and_step_or_epoch_names_neither_crash_nor_leave_staged(
    repo: Repository, branch: str | None
) -> None:
    weights = _ramp(1)
    ckpt = Checkpointer(repo, weights, every_n_steps=1, keep_best=("loss", "min"), branch=branch)
    ckpt.step(metrics={"loss": float("nan"), "step": 1, "epoch": 0.5})
    weights["w"] = _ramp(2)["w"]
    ckpt.step(metrics={"loss": 0.3})
    ckpt.close()
    assert len(ckpt.commits) == 2 and repo.status().clean
    assert ckpt.commits[0].metadata.extra.get("metrics") == {"epoch": 0.5}
    assert ckpt.best is not None and ckpt.best.commit_hash == ckpt.commits[1].commit_hash
    if branch is not None:
        history = repo.run_info(branch)
        assert history.metrics["loss"] == 0.3
        run = repo.start_run(branch, resume=True)
        loss = run.metric_history()["loss"]
        run.close()
        assert loss[0][0] == 1 and np.isnan(loss[0][1]) and loss[1] == (2, 0.3)


def test_background_checkpoints_pass_through_and_are_tagged(repo: Repository) -> None:
    weights = _ramp(1)
    ckpt = Checkpointer(
        repo, weights, every_n_steps=1, keep_best=("acc", "max"), branch="bg", background=True
    )
    for step in range(1, 5):
        weights["w"] = _ramp(step)["w"]
        assert ckpt.step(metrics={"acc": step / 10}) is None  # committed in the background
    ckpt.close()
    assert [c.metadata.extra["run"]["step"] for c in ckpt.commits] == [1, 2, 3, 4]
    for step, commit in enumerate(ckpt.commits, start=1):
        assert repo.get_weight("w", commit.commit_hash).data.tolist() == [step] * 3
    assert ckpt.best is not None and ckpt.best.commit_hash == ckpt.commits[-1].commit_hash
    with pytest.raises(InvalidValueError, match="need a run"):
        Checkpointer(repo, weights, background=True)
