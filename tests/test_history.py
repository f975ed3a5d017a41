"""log, diff (with statistics) and the version graph's queries."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from coral.history.diff import tensor_change_stats
from coral.records.backend import DiskRecords, MemoryRecords, RecordBackend
from coral.records.commits import CommitStore
from coral.records.tags import VersionStore
from coral.storage.locking import RepositoryLock, ThreadLock
from coral.version_control import Commit, CommitMetadata, Repository, VersionGraph

pytestmark = pytest.mark.disk_and_memory

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


class Dag:
    """Commits built directly in a CommitStore, with controlled timestamps."""

    def __init__(self, records: RecordBackend, versions: VersionStore) -> None:
        self.commits = CommitStore(records)
        self.graph = VersionGraph(self.commits, versions)
        self.minute = 0

    def commit(self, *parents: str, weights: dict[str, str] | None = None) -> str:
        self.minute += 1
        metadata = CommitMetadata(
            "a", "a@x", f"m{self.minute}", timestamp=T0 + timedelta(minutes=self.minute)
        )
        commit = Commit.create(list(parents), weights or {"w": f"{self.minute:032x}"}, metadata)
        self.commits.put(commit)
        return commit.commit_hash


@pytest.fixture(params=["disk", "memory"])
def dag(request: pytest.FixtureRequest, tmp_path: Path) -> Dag:
    if request.param == "memory":
        records: RecordBackend = MemoryRecords()
        return Dag(records, VersionStore(records, ThreadLock()))
    (tmp_path / "tmp").mkdir()
    records = DiskRecords(tmp_path, tmp_path / "tmp")
    return Dag(records, VersionStore(records, RepositoryLock(tmp_path / "lock")))


def test_merge_base_of_diverged_branches_is_the_fork_point(dag: Dag) -> None:
    a = dag.commit()
    b = dag.commit(a)
    c = dag.commit(b)
    d = dag.commit(b)
    assert dag.graph.get_common_ancestor(commit1_hash=c, commit2_hash=d) == b
    assert dag.graph.get_merge_bases(c, d) == [b]
    assert dag.graph.get_common_ancestor(c, b) == b  # an ancestor is its own merge base
    assert dag.graph.get_common_ancestor(c, c) == c


def test_criss_cross_history_has_two_best_merge_bases(dag: Dag) -> None:
    a = dag.commit()
    b = dag.commit(a)
    c = dag.commit(a)
    m1 = dag.commit(b, c)  # branch 1 merges branch 2
    m2 = dag.commit(c, b)  # branch 2 merges branch 1
    bases = dag.graph.get_merge_bases(m1, m2)
    assert sorted(bases) == sorted([b, c])  # never the older, worse candidate a
    assert dag.graph.get_common_ancestor(m1, m2) == c  # the newest best base
    assert a not in bases


def test_unrelated_histories_have_no_common_ancestor(dag: Dag) -> None:
    assert dag.graph.get_common_ancestor(dag.commit(), dag.commit()) is None


def test_ancestors_descendants_and_paths(dag: Dag) -> None:
    a = dag.commit()
    b = dag.commit(a)
    c = dag.commit(b)
    d = dag.commit(b)
    assert dag.graph.get_commit_ancestors(c) == [b, a]
    assert set(dag.graph.get_commit_descendants(a)) == {b, c, d}
    assert dag.graph.get_commit_descendants(a)[0] == b
    assert dag.graph.get_commit_path(from_hash=a, to_hash=c) == [a, b, c]
    assert dag.graph.get_commit_path(from_hash=c, to_hash=d) == []
    assert dag.graph.is_ancestor(a, d) and not dag.graph.is_ancestor(c, d)


def test_branch_history_follows_first_parents(dag: Dag) -> None:
    a = dag.commit()
    b = dag.commit(a)
    side = dag.commit(a)
    m = dag.commit(b, side)
    history = dag.graph.get_branch_history(m, max_depth=10)
    assert [c.commit_hash for c in history] == [m, b, a]
    assert len(dag.graph.get_branch_history(m, max_depth=2)) == 2


def test_walk_lists_merged_histories_newest_first_each_once(dag: Dag) -> None:
    a = dag.commit()
    b = dag.commit(a)
    c = dag.commit(a)
    m = dag.commit(b, c)
    assert [x.commit_hash for x in dag.graph.walk([m])] == [m, c, b, a]
    assert [x.commit_hash for x in dag.graph.walk([m], first_parent=True)] == [m, b, a]


def test_graph_sees_commits_written_after_it_was_built(dag: Dag) -> None:
    a = dag.commit()
    assert dag.graph.get_commit_descendants(a) == []
    b = dag.commit(a)
    assert dag.graph.get_commit_descendants(a) == [b]
    assert set(dag.graph.graph.edges) == {(a, b)}


def test_weight_history_lists_each_commit_holding_the_weight(dag: Dag) -> None:
    a = dag.commit(weights={"w": "1" * 32})
    b = dag.commit(a, weights={"w": "1" * 32, "v": "2" * 32})
    c = dag.commit(b, weights={"w": "3" * 32})
    history = dag.graph.get_weight_history(weight_name="w", from_commit=c)
    assert history == [(c, "3" * 32), (b, "1" * 32), (a, "1" * 32)]
    changes = dag.graph.get_weight_history("w", c, changes_only=True)
    assert changes == [(c, "3" * 32), (a, "1" * 32)]
    assert dag.graph.get_weight_history("v", c) == [(b, "2" * 32)]


def _commit(repo: Repository, weights: dict[str, np.ndarray], message: str = "m") -> Commit:
    repo.stage_weights(weights)
    return repo.commit(message)


def test_log_is_newest_first_and_respects_max_commits_and_branch(repo: Repository) -> None:
    first = _commit(repo, {"w": np.zeros(2, np.float32)}, "first")
    repo.create_branch("exp")
    second = _commit(repo, {"w": np.ones(2, np.float32)}, "second")
    assert [c.commit_hash for c in repo.log()] == [second.commit_hash, first.commit_hash]
    assert [c.commit_hash for c in repo.log(max_commits=1)] == [second.commit_hash]
    assert [c.commit_hash for c in repo.log(branch="exp")] == [first.commit_hash]
    assert repo.log(max_commits=0) == []


def test_diff_lists_added_removed_and_modified_with_hashes(repo: Repository) -> None:
    old = _commit(
        repo,
        {
            "keep": np.ones(2, np.float32),
            "change": np.ones(2, np.float32),
            "drop": np.ones(2, np.float32),
        },
    )
    repo.stage_weights(
        {"change": np.zeros(2, np.float32), "new": np.ones(3, np.float32)}, partial=True
    )
    repo.stage_removal("drop")
    new = repo.commit("edit")
    diff = repo.diff(old.commit_hash)
    assert diff["added"] == ["new"] and diff["removed"] == ["drop"]
    assert diff["modified"] == {
        "change": {"from_hash": old.weight_hashes["change"], "to_hash": new.weight_hashes["change"]}
    }
    assert diff["summary"] == {
        "total_added": 1,
        "total_removed": 1,
        "total_modified": 1,
        "total_unchanged": 1,
    }
    assert repo.diff(new.commit_hash, old.commit_hash)["added"] == ["drop"]


def test_diff_stats_measure_the_change(repo: Repository) -> None:
    a = np.array([3.0, 4.0, 0.0, 1.0], np.float32)
    b = np.array([3.0, 4.0, 0.0, 2.0], np.float32)
    old = _commit(repo, {"w": a})
    _commit(repo, {"w": b})
    stats = repo.diff(old.commit_hash, stats=True)["modified"]["w"]["stats"]
    assert stats["elements"] == 4
    assert stats["fraction_changed"] == 0.25
    assert stats["l2"] == pytest.approx(1.0)
    assert stats["relative_l2"] == pytest.approx(1.0 / math.sqrt(26))
    assert stats["cosine_similarity"] == pytest.approx(27 / (math.sqrt(26) * math.sqrt(29)))
    assert stats["max_abs_diff"] == 1.0


def test_change_stats_are_computed_in_chunks_and_match_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(3_000_001).astype(np.float32)  # > 2 chunks
    b = a.copy()
    b[::7] += np.float32(0.5)
    stats = tensor_change_stats(a, b)
    d = b.astype(np.float64) - a.astype(np.float64)
    assert stats["l2"] == pytest.approx(np.linalg.norm(d), rel=1e-9)
    assert stats["fraction_changed"] == pytest.approx(np.count_nonzero(d) / a.size)
    cos = np.dot(a.astype(np.float64), b.astype(np.float64)) / (
        np.linalg.norm(a.astype(np.float64)) * np.linalg.norm(b.astype(np.float64))
    )
    assert stats["cosine_similarity"] == pytest.approx(cos, rel=1e-9)


def test_change_stats_count_bit_changes_and_handle_odd_dtypes() -> None:
    assert (
        tensor_change_stats(np.array([0.0], np.float32), np.array([-0.0], np.float32))[
            "fraction_changed"
        ]
        == 1.0
    )
    nan = np.array([np.nan], np.float32)
    assert tensor_change_stats(nan, nan.copy())["fraction_changed"] == 0.0
    bf = np.array([1.0, 2.0], ml_dtypes.bfloat16)
    assert tensor_change_stats(bf, bf * 2)["max_abs_diff"] == 2.0
    masks = tensor_change_stats(np.array([True, False]), np.array([True, True]))
    assert masks["fraction_changed"] == 0.5
    zeros = tensor_change_stats(np.zeros(3, np.float32), np.zeros(3, np.float32))
    assert (zeros["cosine_similarity"], zeros["relative_l2"]) == (1.0, 0.0)
    grow = tensor_change_stats(np.zeros(3, np.float32), np.ones(3, np.float32))
    assert (grow["cosine_similarity"], grow["relative_l2"]) == (0.0, math.inf)
    reshaped = tensor_change_stats(np.zeros((2, 3), np.float32), np.zeros(6, np.float32))
    assert reshaped["shape_changed"] and not reshaped["dtype_changed"]
    assert tensor_change_stats(np.zeros(0), np.zeros(0))["elements"] == 0


def test_version_graph_accepts_refs(repo: Repository) -> None:
    first = _commit(repo, {"w": np.zeros(2, np.float32)})
    second = _commit(repo, {"w": np.ones(2, np.float32)})
    graph = repo.version_graph
    assert graph.get_commit("main").commit_hash == second.commit_hash
    assert graph.get_commit_ancestors("HEAD") == [first.commit_hash]
    assert graph.get_common_ancestor("main", first.commit_hash[:6]) == first.commit_hash
