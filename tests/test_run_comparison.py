"""``RunComparison`` / ``%coral compare``: params that differ, both curves, the merge base,
the diff of the tips and a merge preview that writes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from coral.errors import InvalidValueError, RefNotFoundError
from coral.version_control import Repository
from tests.jupyter_helpers import check_html

pytestmark = pytest.mark.disk_and_memory


@pytest.fixture
def two_runs(repo: Repository) -> Repository:
    repo.stage_weights({"w": np.zeros(64, np.float32), "b": np.zeros(4, np.float32)})
    repo.commit("base")
    for name, lr, shift in (("lr-a", 0.1, 1.0), ("lr-b", 0.01, 2.0)):
        with repo.start_run(name, params={"lr": lr, "batch": 16}) as run:
            for step in range(3):
                run.log({"loss": shift / (step + 1)}, step=step)
            run.commit({"w": np.full(64, shift, np.float32), "b": np.zeros(4, np.float32)})
    return repo


def test_the_comparison_of_two_runs(two_runs: Repository) -> None:
    from coral_jupyter.widgets import RunComparison

    repo = two_runs
    view = RunComparison(repo, "lr-a", "lr-b")
    assert view.params_diff == {"lr": (0.1, 0.01)} and view.shared_params == {"batch": 16}
    assert view.merge_base == repo.resolve_ref("main")
    assert view.metrics == ["loss"]
    a_trace, b_trace = view.figure.data
    assert (a_trace.name, list(a_trace.y)) == ("lr-a", [1.0, 0.5, 1.0 / 3])
    assert (b_trace.name, list(b_trace.x)) == ("lr-b", [0, 1, 2])
    assert list(view.diff.diff["modified"]) == ["w"]  # the tips' weight diff
    head = repo.head
    plan = view.preview_merge()
    assert plan.kind == "merge" and plan.ours == repo.resolve_ref("lr-a")
    assert repo.head == head and repo.resolve_ref("lr-a") == plan.ours  # nothing written
    assert "w" in view.plan_area.value
    html = view.static_html()
    check_html(html)
    assert "lr-a vs lr-b" in html and "Merge base" in html
    assert repr(view) == "lr-a vs lr-b: lr: 0.1 vs 0.01"


def test_only_runs_with_commits_are_compared(repo: Repository) -> None:
    from coral_jupyter.widgets import RunComparison

    repo.start_run("unborn").close()  # in an empty repository: no branch, no commit yet
    repo.start_run("other").close()
    with pytest.raises(InvalidValueError, match="no commit yet"):
        RunComparison(repo, "unborn", "other")
    with pytest.raises(RefNotFoundError, match="no run named"):
        RunComparison(repo, "unborn", "nope")
