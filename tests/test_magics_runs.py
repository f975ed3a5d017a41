"""``%coral run`` and ``%coral runs`` through a real IPython shell, and ``coral runs`` /
``coral run show`` on the command line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coral.version_control import Repository
from coral_jupyter.display import CommitOutcome, Notice
from coral_jupyter.display.runs import SessionStatus
from coral_jupyter.widgets import RunsTable
from tests.jupyter_helpers import Shell
from tests.test_cli import coral

torch = pytest.importorskip("torch")


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    monkeypatch.chdir(tmp_path)
    sh = Shell()
    sh.run("%coral init .")
    sh.run(
        "import torch\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Linear(4, 2)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)"
    )
    sh.run('%coral commit -m "init" model')
    yield sh
    sh.ip.reset()


def test_a_notebook_run_from_start_to_end(shell: Shell) -> None:
    started = shell.run("%coral run start lr-0.1 --param lr=0.1 --param batch=8")
    assert isinstance(started, Notice) and "lr=0.1" in repr(started)
    logged = shell.run("%coral run log loss=0.9 acc=0.5")
    assert "step 0" in repr(logged)
    shell.run("%coral run log loss=nan --step 3")  # a diverged loss is recorded as it is
    status = shell.run("%coral status")
    assert isinstance(status, SessionStatus) and "Active run: lr-0.1 (step 3)" in repr(status)
    assert "Active run" in shell.html(status)
    shell.run("with torch.no_grad(): model.weight.add_(1.0)")
    made = shell.run('%coral run commit -m "after a step"')  # the notebook's one model
    assert isinstance(made, CommitOutcome) and repr(made).startswith("[lr-0.1 ")
    table = shell.run("%coral runs --sort loss")
    assert isinstance(table, RunsTable) and "lr-0.1 [active] step 3" in repr(table)
    html = shell.html(table)
    assert "lr-0.1" in html and "batch" in html and table.sort_column == "loss"
    ended = shell.run("%coral run end")
    assert "1 commit(s), last step 3" in repr(ended)

    repo: Repository = shell.session.repo
    assert repo.current_branch == "main" and len(repo.log()) == 1  # HEAD never moved
    weight = repo.get_weight("weight", "lr-0.1").data
    assert weight.tobytes() == shell.run("model.weight.detach().numpy()").tobytes()
    info = repo.run_info("lr-0.1")
    assert info.params == {"lr": 0.1, "batch": 8} and info.status == "closed"


def test_run_magic_errors_are_one_line_usage_errors(shell: Shell) -> None:
    assert "no active run" in shell.usage_error("%coral run log loss=1")
    assert "usage: run start NAME" in shell.usage_error("%coral run start")
    shell.run("%coral run start a")
    assert "end it first" in shell.usage_error("%coral run start b")
    assert "NAME=NUMBER" in shell.usage_error("%coral run log loss=high")
    assert "usage: run log" in shell.usage_error("%coral run log")
    assert "end it first" in shell.usage_error("%coral run start a --resume")
    shell.run("%coral run end")
    assert "no active run" in shell.usage_error("%coral run end")
    assert "resume=True" in shell.usage_error("%coral run start a")  # it exists now


def test_run_commit_needs_a_name_when_the_notebook_has_several_models(shell: Shell) -> None:
    shell.run("other = torch.nn.Linear(2, 2)")
    shell.run("%coral run start r")
    assert "candidates: model, other" in shell.usage_error("%coral run commit")
    shell.run("%coral run commit other")
    shell.run("%coral run end")


def test_the_command_line_lists_and_shows_runs(tmp_path: Path) -> None:
    import numpy as np

    repo = Repository(tmp_path / "proj", init=True)
    with repo.start_run("sweep-1", params={"lr": 0.01}) as run:
        run.log({"loss": 0.5}, step=1)
        run.commit({"w": np.ones(2, np.float32)}, step=1)
    listed = coral(tmp_path / "proj", "runs").stdout
    assert "sweep-1 [closed] step 1, 1 commit(s); lr=0.01; loss=0.5" in listed
    shown = coral(tmp_path / "proj", "run", "show", "sweep-1").stdout
    assert "param  lr = 0.01" in shown and "metric loss = 0.5" in shown and "step 1" in shown
    missing = coral(tmp_path / "proj", "run", "show", "nope", code=1)
    assert "no run named 'nope'" in missing.stderr


def test_tab_completion_of_runs(shell: Shell) -> None:
    shell.run("%coral run start alpha")
    shell.run("%coral run end")
    assert shell.complete("%coral run ") == ["commit", "end", "log", "show", "start"]
    assert shell.complete("%coral run show a") == ["alpha"]
    assert "main" in shell.complete("%coral run start beta --from ")
    assert shell.complete("%coral run commit m") == ["model"]


def test_compare_two_runs_from_the_notebook(shell: Shell) -> None:
    from coral_jupyter.widgets import RunComparison

    for name, lr in (("a", 0.1), ("b", 0.01)):
        shell.run(f"%coral run start {name} --param lr={lr}")
        shell.run("%coral run log loss=1.0 --step 0")
        shell.run("with torch.no_grad(): model.weight.add_(1.0)")
        shell.run("%coral run commit model")
        shell.run("%coral run end")
    view = shell.run("%coral compare a b --strategy ties")
    assert isinstance(view, RunComparison) and view.params_diff == {"lr": (0.1, 0.01)}
    assert view.strategy == "ties" and "a vs b" in shell.html(view)
    assert shell.complete("%coral compare ") == ["a", "b"]
