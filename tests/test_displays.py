"""Notebook displays: escaped, well-formed static HTML, a graph layout that follows the DAG,
and a core that never imports the Jupyter stack."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from coral.history.graph_layout import layout, topological_newest_first
from coral.version_control import Repository
from coral_jupyter.display import DiffView, LogView, MergeOutcome, RepositorySummary, VersionList
from coral_jupyter.display.views import commit_html, commit_view_html, status_html
from tests.jupyter_helpers import check_html

NASTY = '<script>alert("x")</script> & "quotes" \'single\''


def _history(repo: Repository) -> dict[str, str]:
    """main: A - B - M(merge of C) - D; exp: A - C. Returns message -> hash."""
    repo.stage_weights({"w": np.zeros(2, np.float32), "v": np.zeros(2, np.float32)})
    a = repo.commit("A").commit_hash
    repo.create_branch("exp")
    repo.stage_weights({"w": np.ones(2, np.float32)})
    b = repo.commit("B").commit_hash
    repo.checkout("exp")
    repo.stage_weights({"v": np.ones(2, np.float32)})
    c = repo.commit("C").commit_hash
    repo.checkout("main")
    m = repo.merge("exp").commit_hash
    repo.stage_weights({"w": np.full(2, 2, np.float32)})
    d = repo.commit("D").commit_hash
    return {"A": a, "B": b, "C": c, "M": m, "D": d}


def test_layout_puts_a_side_branch_in_its_own_lane_and_joins_it_at_the_merge(
    repo: Repository,
) -> None:
    h = _history(repo)
    commits = topological_newest_first(repo.version_graph.commits().values())
    order = [c.commit_hash for c in commits]
    assert order[0] == h["D"] and order[-1] == h["A"]
    rows = {r.commit.commit_hash: r for r in layout(commits)}
    assert rows[h["D"]].lane == 0 and rows[h["M"]].lane == 0
    assert rows[h["M"]].outgoing == (0, 1)  # first parent straight down, second to lane 1
    assert rows[h["C"]].lane == 1 and rows[h["B"]].lane == 0
    assert rows[h["A"]].lane == 0
    assert sorted(rows[h["A"]].incoming) == [(0, True), (1, True)]  # both lanes end at A
    assert rows[h["B"]].through == (1,)  # C's lane passes B by
    assert max(r.width for r in rows.values()) == 2


def test_a_linear_history_stays_in_one_lane(repo: Repository) -> None:
    for i in range(4):
        repo.stage_weights({"w": np.full(2, i, np.float32)})
        repo.commit(f"c{i}")
    rows = layout(repo.log())
    assert {r.lane for r in rows} == {0} and {r.width for r in rows} == {1}
    assert rows[-1].outgoing == ()


def test_every_view_escapes_user_text_and_is_well_formed(repo: Repository) -> None:
    repo.stage_weights({NASTY: np.zeros(3, np.float32), "w": np.ones(2, np.float32)})
    repo.commit(NASTY)
    repo.create_branch("exp")
    repo.stage_weights({"w": np.full(2, 3, np.float32)})
    repo.commit("second")
    repo.tag_version("v1", NASTY, {NASTY: 1.0})
    views = [
        commit_html(repo.get_commit()),
        commit_view_html(repo.show()),
        status_html(repo.status()),
        LogView(repo.log(), refs={repo.resolve_ref("HEAD"): [NASTY]})._repr_html_(),
        DiffView(repo.diff("HEAD~1", stats=True), NASTY, "HEAD")._repr_html_(),
        VersionList(repo.list_versions())._repr_html_(),
        RepositorySummary.of(repo)._repr_html_(),
        MergeOutcome(repo.merge("exp", dry_run=True), None)._repr_html_(),
    ]
    for markup in views:
        check_html(markup)
        assert "<script>" not in markup
    assert any("&lt;script&gt;" in markup for markup in views)


def test_repository_summary_reports_storage_saved(repo: Repository) -> None:
    repo.stage_weights({"w": np.zeros((256, 256), np.float32)})
    repo.commit("zeros")
    summary = RepositorySummary.of(repo)
    assert summary.raw_bytes == 256 * 256 * 4 and summary.stored_bytes < summary.raw_bytes
    assert summary.saved > 0.9 and "saved" in repr(summary)


def test_the_core_never_imports_the_jupyter_stack(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from coral.version_control import Repository\n"
        f"repo = Repository({str(tmp_path / 'r')!r}, init=True)\n"
        "repo.stage_weights({'w': np.ones(3)}); repo.commit('c'); repo.show(); repo.log()\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'IPython', 'ipykernel', 'ipywidgets', 'tqdm', 'jupyterlab', 'coral_jupyter', 'torch'}]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_transfer_report_renders_the_typed_results_and_escapes_what_the_remote_said() -> None:
    from coral.remote import PullResult, PushResult
    from coral_jupyter.display import TransferReport

    pushed = PushResult(
        weights_pushed=3,
        bytes_transferred=2048,
        commits_pushed=1,
        branches_updated={"main": "ab" * 16},
        tags_pushed=["v1"],
        rejected={"tag v0": NASTY},
    )
    pulled = PullResult(skipped=2, diverged={"exp": "yours and origin's have diverged"})
    report = TransferReport("Synced with origin: not in sync", {"pull": pulled, "push": pushed})
    assert repr(report).splitlines() == [
        "Synced with origin: not in sync",
        "  pull: 0 weight object(s) pulled, 0 B; 0 commit(s); 2 already there",
        "  pull: not updated: exp: yours and origin's have diverged",
        "  push: 3 weight object(s) pushed, 2.0 KiB; 1 commit(s); 0 already there",
        f"  push: branches: main -> {'ab' * 4}",
        "  push: tags: v1",
        f"  push: refused: tag v0: {NASTY}",
    ]
    markup = report._repr_html_()
    check_html(markup)
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    assert TransferReport("Pushed to origin", {"push": pushed}).result is pushed
