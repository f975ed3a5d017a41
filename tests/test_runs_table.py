"""The runs table: rows (latest and best of each metric, varying params), sorting, filtering,
selection and opening a run in the DAG explorer; ``coral runs --sort/--filter`` too."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from coral.errors import InvalidValueError, RefNotFoundError
from coral.runs.table import lower_is_better, row_filter, run_rows
from coral.version_control import Repository
from tests.jupyter_helpers import check_html
from tests.test_cli import coral

pytestmark = pytest.mark.disk_and_memory


@pytest.fixture
def sweep(repo: Repository) -> Repository:
    """Three runs: a sweep over lr, one diverged."""
    for lr, losses in ((1e-2, [1.0, 0.4, 0.6]), (1e-3, [1.0, 0.7, 0.5]), (1e-1, [1.0, math.nan])):
        with repo.start_run(f"lr-{lr:g}", params={"lr": lr, "batch": 32}) as run:
            for step, loss in enumerate(losses):
                run.log({"loss": loss, "acc": step / 10}, step=step)
            run.commit({"w": np.full(2, lr, np.float32)})
    return repo


def test_rows_have_latest_and_best_values_and_the_varying_params(sweep: Repository) -> None:
    rows = {r.name: r for r in run_rows(sweep)}
    assert set(rows) == {"lr-0.01", "lr-0.001", "lr-0.1"}
    fast = rows["lr-0.01"]
    assert fast.latest == {"loss": 0.6, "acc": 0.2} and fast.best == {"loss": 0.4, "acc": 0.2}
    assert fast.commits == 1 and fast.step == 2 and fast.status == "closed"
    assert fast.tip == sweep.resolve_ref("lr-0.01") and fast.activity is not None
    assert math.isnan(rows["lr-0.1"].latest["loss"]) and rows["lr-0.1"].best["loss"] == 1.0
    assert lower_is_better("val_loss") and not lower_is_better("accuracy")


def test_sorting_filtering_and_selecting(sweep: Repository) -> None:
    from coral_jupyter.widgets import RunsTable

    explorer_calls: list[str] = []

    class Explorer:
        def select_commit(self, ref: str) -> None:
            explorer_calls.append(ref)

    table = RunsTable(sweep, "best.loss", explorer=Explorer())
    assert [r.name for r in table.rows] == ["lr-0.01", "lr-0.001", "lr-0.1"]
    table.sort("loss", descending=True)  # the diverged run (NaN) goes last either way
    assert [r.name for r in table.rows] == ["lr-0.01", "lr-0.001", "lr-0.1"]
    table.sort("params.lr", descending=False)
    assert [r.name for r in table.rows] == ["lr-0.001", "lr-0.01", "lr-0.1"]
    table.filter("lr < 0.05 and best.loss < 0.45")
    assert [r.name for r in table.rows] == ["lr-0.01"]
    assert table.varying == []  # one row left: nothing differs
    table.filter("")
    assert table.varying == ["lr"]  # batch is the same everywhere
    table.select(["lr-0.1", "lr-0.01"])
    assert table.selected == ["lr-0.1", "lr-0.01"]
    assert table.selection.value == ("lr-0.01", "lr-0.1")  # in display order
    with pytest.raises(RefNotFoundError, match="no run named 'nope'"):
        table.select(["nope"])
    table.open_run("lr-0.001")
    assert explorer_calls == [sweep.resolve_ref("lr-0.001")]
    html = table.static_html()
    check_html(html)
    assert "lr *" in html and "loss (min / last)" in html and "acc (max / last)" in html


def test_the_controls_drive_the_same_methods(sweep: Repository) -> None:
    from coral_jupyter.widgets import RunsTable

    table = RunsTable(sweep)
    table.sort_choice.value = "best.loss"
    assert table.sort_column == "best.loss" and table.rows[0].name == "lr-0.01"
    table.direction.value = True
    assert table.descending and table.rows[0].name == "lr-0.1"  # its best before NaN: 1.0
    table.filter_box.value = "lr >"  # not an expression: shown, nothing changes
    assert "not an expression" in table.message.value and len(table.rows) == 3
    table.selection.value = ("lr-0.001",)
    assert table.selected == ["lr-0.001"]


@pytest.mark.parametrize(
    "expression", ["__import__('os')", "lr.real > 1", "open('x')", "[1, 2]", "lr +"]
)
def test_a_filter_is_an_expression_over_columns_only(expression: str) -> None:
    with pytest.raises(InvalidValueError):
        row_filter(expression)


@pytest.mark.disk_only  # the command line reads the directory
def test_coral_runs_sorts_and_filters(sweep: Repository) -> None:
    out = coral(sweep.path, "runs", "--sort", "best.loss", "--filter", "lr < 0.05").stdout
    assert [line.split()[0] for line in out.splitlines()] == ["lr-0.01", "lr-0.001"]
    assert "not an expression" in coral(sweep.path, "runs", "--filter", "lr <", code=1).stderr


def test_an_empty_repository_has_an_empty_table(repo: Repository, tmp_path: Path) -> None:
    from coral_jupyter.widgets import RunsTable

    table = RunsTable(repo)
    assert table.rows == [] and "No runs yet" in table.static_html()
