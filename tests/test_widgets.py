"""The notebook widgets, driven from Python: state, selection methods, downsampling."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("plotly")

from coral.version_control import Repository
from coral_jupyter.widgets import DagExplorer, DagModel, DiffViewer, MetricsPlot
from coral_jupyter.widgets.tensor_view import (
    MAX_CELLS,
    change_numbers,
    downsample,
    histogram,
)
from tests.jupyter_helpers import Shell, check_html

F32 = np.float32


@pytest.fixture
def history(repo: Repository) -> dict[str, str]:
    """main: A - B - M - D (M merges exp: A - C); tag v1 on C with metrics."""
    rng = np.random.default_rng(0)
    base = {"m": rng.standard_normal((40, 30)).astype(F32), "b": np.zeros(5, F32)}
    repo.stage_weights(base)
    a = repo.commit("A", metrics={"loss": 1.0}).commit_hash
    repo.create_branch("exp")
    repo.stage_weights({"b": np.ones(5, F32)}, partial=True)
    b = repo.commit("B", metrics={"loss": 0.8}).commit_hash
    repo.checkout("exp")
    repo.stage_weights(
        {"m": base["m"] + np.outer(np.ones(40), np.arange(30)).astype(F32)}, partial=True
    )
    c = repo.commit("C").commit_hash
    repo.tag_version("v1", "exp result", {"loss": 0.7, "acc": 0.9})
    repo.checkout("main")
    m = repo.merge("exp").commit_hash
    repo.stage_weights({"b": np.full(5, 2, F32)}, partial=True)
    d = repo.commit("D", metrics={"loss": 0.5}).commit_hash
    return {"A": a, "B": b, "C": c, "M": m, "D": d}


def _click(trace: object, index: int) -> SimpleNamespace:
    return SimpleNamespace(point_inds=[index])


def test_dag_model_lays_out_lanes_labels_and_branch_colours(
    repo: Repository, history: dict[str, str]
) -> None:
    model = DagModel.build(repo)
    by_message = {n.commit.metadata.message: n for n in model.nodes}
    assert model.nodes[0].commit.metadata.message == "D"
    assert by_message["C"].lane == 1 and by_message["D"].lane == 0
    assert by_message["C"].labels == ("exp", "tag: v1")
    assert by_message["D"].labels == ("HEAD -> main",)
    assert by_message["C"].branch == "exp" and by_message["B"].branch == "main"
    assert model.head == history["D"]
    # Every edge joins two drawn positions (or runs off the bottom for unseen parents).
    rows = len(model.nodes)
    assert all(0 <= r0 < r1 <= rows for _, r0, _, r1 in model.edges)
    only_exp = DagModel.build(repo, branch="exp")
    assert [n.commit.metadata.message for n in only_exp.nodes] == ["C", "A"]


def test_selecting_a_commit_fills_the_side_panel_and_tells_listeners(
    repo: Repository, history: dict[str, str]
) -> None:
    explorer = DagExplorer(repo)
    heard: list[str] = []
    explorer.on_select.append(heard.append)
    explorer.select_commit("v1")
    assert explorer.selected == history["C"] and heard == [history["C"]]
    panel = explorer.panel.value
    check_html(panel)
    assert "C" in panel and "tag: v1" in panel and "loss=0.7" in panel and "modified" in panel
    node = explorer.model.position(history["C"])
    assert node is not None
    selection = explorer.figure.data[-1]
    assert list(selection.x) == [node.lane] and list(selection.y) == [node.row]


def test_a_click_on_a_node_selects_it(repo: Repository, history: dict[str, str]) -> None:
    explorer = DagExplorer(repo)
    trace = next(t for t in explorer.figure.data if t.name == "exp")
    explorer._clicked(trace, _click(trace, 0), None)
    assert explorer.selected == trace.customdata[0] == history["C"]
    other = next(t for t in explorer.figure.data if t.name == "main")
    explorer._clicked(other, SimpleNamespace(point_inds=[]), None)  # plotly calls every trace
    assert explorer.selected == history["C"]


def test_filter_highlight_and_refresh_after_a_commit_elsewhere(
    repo: Repository, history: dict[str, str]
) -> None:
    explorer = DagExplorer(repo)
    explorer.highlight_ancestors("exp")
    exp_trace = next(t for t in explorer.figure.data if t.name == "exp")
    main_trace = next(t for t in explorer.figure.data if t.name == "main")
    assert list(exp_trace.marker.opacity) == [1.0]
    assert sorted(main_trace.marker.opacity) == [0.2, 0.2, 0.2, 1.0]  # only A is an ancestor
    explorer.branch_choice.value = "exp"  # the dropdown, as a user would
    assert len(explorer.model.nodes) == 2 and explorer.branch_filter == "exp"
    explorer.branch_choice.value = ""
    assert explorer.branch_filter is None and len(explorer.model.nodes) == 5
    explorer.ancestor_choice.value = "exp"
    assert explorer.highlighted is not None and len(explorer.highlighted) == 2
    explorer.ancestor_choice.value = ""
    assert explorer.highlighted is None
    Repository(repo.path).stage_weights({"new": np.ones(2, F32)})
    Repository(repo.path).commit("from another cell")
    explorer.refresh()
    assert explorer.model.nodes[0].commit.metadata.message == "from another cell"


def test_buttons_branch_tag_checkout_and_diff(repo: Repository, history: dict[str, str]) -> None:
    explorer = DagExplorer(repo)
    explorer._safely(explorer.checkout_selected)  # nothing selected: a message, no change
    assert "select a commit first" in explorer.message.value and repo.head.branch == "main"
    explorer.select_commit(history["B"])
    explorer.name.value = "from-b"
    explorer.buttons["branch here"].click()
    assert repo.branch_manager.get_branch("from-b").commit_hash == history["B"]
    explorer.name.value = "b-tag"
    explorer.buttons["tag"].click()
    assert repo.get_version("b-tag").commit_hash == history["B"]
    explorer.buttons["tag"].click()  # exists already: the error is shown, nothing changes
    assert "b-tag" in explorer.message.value
    viewer = explorer.show_diff("parent")
    assert isinstance(viewer, DiffViewer) and viewer.selected == "b"
    explorer.select_commit("v1")
    explorer.checkout_selected()
    assert repo.head.branch == "exp"


def test_widgets_carry_a_static_fallback(repo: Repository, history: dict[str, str]) -> None:
    for widget in (DagExplorer(repo), DiffViewer(repo, "main~1"), MetricsPlot(repo)):
        bundle = widget._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        check_html(bundle["text/html"])


def test_diff_viewer_ranks_filters_and_explains_a_change(
    repo: Repository, history: dict[str, str]
) -> None:
    viewer = DiffViewer(repo, history["A"], "v1")
    assert viewer.ranked_names() == ["m"] and viewer.selected == "m"
    viewer.hide_unchanged.value = False
    assert viewer.ranked_names() == ["m", "b"]
    viewer.search.value = "B"
    assert viewer.ranked_names() == ["b"]
    numbers = viewer.select_tensor("m")
    assert numbers.effective_rank is not None and numbers.effective_rank == pytest.approx(
        1.0, abs=0.05
    )
    assert numbers.rank_90 == 1  # the change was rank one (an outer product)
    heatmaps = [t for t in viewer.detail.data if t.type == "heatmap"]
    assert len(heatmaps) == 3 and all(np.asarray(h.z).size <= MAX_CELLS for h in heatmaps)
    assert "effective rank" in viewer.numbers_html.value
    line_view = DiffViewer(repo, history["A"], history["B"])  # only the 1-D "b" changed
    assert line_view.selected == "b"
    assert [t.type for t in line_view.detail.data][:3] == ["scatter"] * 3
    with pytest.raises(KeyError):
        viewer.select_tensor("missing")
    bar = viewer.overview.data[0]
    viewer._clicked(bar, _click(bar, 0), None)
    assert viewer.selected == bar.customdata[0]


def test_change_numbers_on_a_hand_example() -> None:
    a = np.array([[1.0, -2.0], [3.0, 4.0]], F32)
    b = np.array([[1.0, 2.0], [3.0, 5.0]], F32)
    n = change_numbers(a, b)
    assert n.l2 == pytest.approx(math.sqrt(16 + 1))
    assert n.relative_l2 == pytest.approx(math.sqrt(17) / math.sqrt(30))
    assert n.max_abs == 4.0 and n.sign_flips == 1 and n.elements == 4
    assert change_numbers(np.zeros(3, F32), np.zeros(3, F32)).relative_l2 == 0.0


def test_metrics_across_versions_and_linked_selection(
    repo: Repository, history: dict[str, str]
) -> None:
    explorer = DagExplorer(repo)
    plot = MetricsPlot(repo, explorer=explorer)
    assert plot.points[0].label == history["A"][:8]
    assert "v1" in [p.label for p in plot.points]
    assert plot.metric_names == ["acc", "loss"]
    losses = next(t for t in plot.figure.data if t.name == "loss")
    assert list(losses.y) == [1.0, 0.8, 0.7, 0.5] or sorted(losses.y) == [0.5, 0.7, 0.8, 1.0]
    plot._clicked(losses, _click(losses, 2), None)
    assert plot.selected == explorer.selected == losses.customdata[2]
    plot.choice.value = ("acc",)
    assert [t.name for t in plot.figure.data] == ["acc"]


def test_magics_open_the_widgets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    shell = Shell()
    shell.run("%coral init .")
    shell.run("import numpy as np\nw = np.zeros(4, np.float32)")
    shell.run('%coral commit -m "one" w --metric loss=1.0')
    shell.run("w = w + 1")
    shell.run('%coral commit -m "two" w --metric loss=0.5')
    dag = shell.run("%coral dag")
    assert isinstance(dag, DagExplorer) and len(dag.model.nodes) == 2
    viewer = shell.run("%coral diffview --tensor w")
    assert isinstance(viewer, DiffViewer) and viewer.selected == "w"
    plot = shell.run("%coral metrics")
    assert isinstance(plot, MetricsPlot) and plot.explorer is dag
    assert [p.values for p in plot.points] == [{"loss": 1.0}, {"loss": 0.5}]


def test_downsample_means_blocks_and_keeps_spikes() -> None:
    m = np.arange(16, dtype=F32).reshape(4, 4)
    small = downsample(m, max_cells=4)
    assert small.tolist() == [[2.5, 4.5], [10.5, 12.5]]
    spike = np.zeros((100, 100), F32)
    spike[37, 61] = -5.0
    assert downsample(spike, max_cells=100, mode="absmax").min() == -5.0
    assert downsample(spike, max_cells=100).min() > -1  # a mean would hide it
    assert downsample(m) is m  # small enough: untouched


@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 5000))
@settings(max_examples=60, deadline=None)
def test_downsample_never_exceeds_the_cell_budget(rows: int, cols: int, budget: int) -> None:
    matrix = np.ones((rows, cols), F32)
    small = downsample(matrix, max_cells=budget)
    assert small.size <= max(budget, 1) or small is matrix
    assert np.allclose(small, 1.0)  # ragged edges are averaged over what they hold
    assert downsample(matrix, max_cells=budget, mode="absmax").size == small.size


def test_histograms_send_counts_only() -> None:
    counts, edges = histogram(np.random.default_rng(0).standard_normal(3_000_000))
    assert counts.sum() == 1 << 20 and edges.size == counts.size + 1
    assert histogram(np.array([np.nan]))[0].size == 0


@pytest.mark.parametrize(
    "values",
    [
        np.array([1.0000001, 1.0000002, 1.0000001], np.float32),  # a few float32 ulps apart
        np.full(10, 3.0, np.float64),
        np.array([1.0, 1.0 + 2**-52]),
    ],
)
def test_histograms_of_nearly_constant_tensors(values: np.ndarray) -> None:
    counts, edges = histogram(values)
    assert counts.sum() == values.size and np.all(np.diff(edges) > 0)
