"""Merging: three-way rules, every strategy on hand-computed values, fast-forwards, refusals."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from coral.errors import CoralError, InvalidValueError, StagedChangesError
from coral.version_control import (
    Commit,
    MergeConflictError,
    MergePlan,
    MergeStrategy,
    Repository,
)
from tests.helpers import assert_bit_exact, reopen

pytestmark = pytest.mark.disk_and_memory

F32 = np.float32
BF16 = ml_dtypes.bfloat16


def _commit(repo: Repository, message: str, **weights: np.ndarray) -> Commit:
    """Commit ``weights`` on top of HEAD's other weights."""
    repo.stage_weights(weights, partial=True)
    return repo.commit(message)


def _diverge(
    repo: Repository,
    base: dict[str, np.ndarray],
    ours: dict[str, np.ndarray],
    theirs: dict[str, np.ndarray],
    removed_ours: tuple[str, ...] = (),
    removed_theirs: tuple[str, ...] = (),
) -> None:
    """main: base -> ours; exp: base -> theirs; HEAD on main."""
    _commit(repo, "base", **base)
    repo.create_branch("exp")
    if removed_ours:
        repo.stage_removal(removed_ours)
    _commit(repo, "ours", **ours) if ours else repo.commit("ours")
    repo.checkout("exp")
    if removed_theirs:
        repo.stage_removal(removed_theirs)
    _commit(repo, "theirs", **theirs) if theirs else repo.commit("theirs")
    repo.checkout("main")


def _weights(repo: Repository, ref: str = "HEAD") -> dict[str, np.ndarray]:
    return {name: w.data for name, w in repo.get_all_weights(ref).items()}


def _state(repo: Repository) -> tuple[object, ...]:
    """Everything a refused merge must leave alone."""
    return (
        repo.head,
        sorted(repo.store.object_ids()),
        [c.commit_hash for c in repo.log()],
        {b.name: b.commit_hash for b in repo.branch_manager.list_branches()},
    )


@pytest.fixture
def conflict(repo: Repository) -> Repository:
    """The chapter's example: base [1, 2, 3], ours [1, 2, 4], theirs [1, 5, 3]."""
    _diverge(
        repo,
        {"layer1.weight": np.array([1, 2, 3], F32)},
        {"layer1.weight": np.array([1, 2, 4], F32)},
        {"layer1.weight": np.array([1, 5, 3], F32)},
    )
    return repo


@pytest.mark.parametrize(
    ("strategy", "params", "expected"),
    [
        (MergeStrategy.OURS, {}, [1, 2, 4]),
        (MergeStrategy.THEIRS, {}, [1, 5, 3]),
        (MergeStrategy.AVERAGE, {}, [1, 3.5, 3.5]),
        (MergeStrategy.WEIGHTED, {"merge_alpha": 0.75}, [1, 2.75, 3.75]),
        (MergeStrategy.TASK_ARITHMETIC, {}, [1, 5, 4]),
        (MergeStrategy.TASK_ARITHMETIC, {"lambda_": 0.5}, [1, 3.5, 3.5]),
        ("task-arithmetic", {"lambda": 2.0, "weights": (1, 0.5)}, [1, 5, 5]),
        ("TIES", {"density": 1.0}, [1, 5, 4]),
        ("dare", {"density": 1.0}, [1, 5, 4]),
    ],
)
def test_each_strategy_resolves_the_chapter_conflict_exactly(
    conflict: Repository, strategy: MergeStrategy | str, params: dict, expected: list[float]
) -> None:
    merge = conflict.merge("exp", strategy=strategy, **params)
    assert merge.is_merge_commit and merge.parent_hashes[1] == conflict.resolve_ref("exp")
    assert_bit_exact(conflict.get_weight("layer1.weight").data, np.array(expected, F32))


def test_the_merge_commit_has_both_tips_as_parents_and_moves_the_branch(
    conflict: Repository,
) -> None:
    ours, theirs = conflict.resolve_ref("main"), conflict.resolve_ref("exp")
    merge = conflict.merge("exp", message="Merge improved learning rate")
    assert merge.parent_hashes == [ours, theirs]
    assert merge.is_merge_commit
    assert conflict.resolve_ref("main") == merge.commit_hash
    assert conflict.get_commit().metadata.message == "Merge improved learning rate"
    assert conflict.merge("exp").commit_hash == merge.commit_hash  # now up to date


def test_fail_raises_with_the_conflicting_names_and_changes_nothing(repo: Repository) -> None:
    _diverge(
        repo,
        {"layer1.weight": np.zeros(3, F32), "layer2.bias": np.zeros(2, F32), "x": np.ones(1, F32)},
        {"layer1.weight": np.ones(3, F32), "layer2.bias": np.ones(2, F32)},
        {"layer1.weight": np.full(3, 2, F32), "layer2.bias": np.full(2, 2, F32)},
    )
    before = _state(repo)
    with pytest.raises(MergeConflictError) as caught:
        repo.merge("exp", strategy=MergeStrategy.FAIL)
    assert caught.value.conflicts == ["layer1.weight", "layer2.bias"]
    assert "nothing written" in str(caught.value)
    assert _state(repo) == before


def test_one_sided_changes_additions_and_removals_take_that_side(repo: Repository) -> None:
    _diverge(
        repo,
        base={
            "same": np.ones(2, F32),
            "ours_changes": np.ones(2, F32),
            "theirs_changes": np.ones(2, F32),
            "ours_removes": np.ones(2, F32),
            "theirs_removes": np.ones(2, F32),
        },
        ours={"ours_changes": np.full(2, 3, F32), "ours_adds": np.full(2, 4, F32)},
        theirs={"theirs_changes": np.full(2, 5, F32), "theirs_adds": np.full(2, 6, F32)},
        removed_ours=("ours_removes",),
        removed_theirs=("theirs_removes",),
    )
    plan = repo.merge("exp", strategy="fail", dry_run=True)
    assert plan.ok and plan.conflicts == []
    outcome = {t.name: (t.outcome, t.reason) for t in plan.tensors}
    assert outcome == {
        "same": ("ours", "same on both sides"),
        "ours_changes": ("ours", "changed on our side"),
        "ours_adds": ("ours", "added on our side"),
        "ours_removes": ("deleted", "removed on our side"),
        "theirs_changes": ("theirs", "changed on their side"),
        "theirs_adds": ("theirs", "added on their side"),
        "theirs_removes": ("deleted", "removed on their side"),
    }
    repo.merge("exp", strategy="fail")
    merged = _weights(repo)
    assert sorted(merged) == ["ours_adds", "ours_changes", "same", "theirs_adds", "theirs_changes"]
    assert_bit_exact(merged["ours_changes"], np.full(2, 3, F32))
    assert_bit_exact(merged["theirs_changes"], np.full(2, 5, F32))
    assert_bit_exact(merged["theirs_adds"], np.full(2, 6, F32))


def test_removed_on_one_side_and_changed_on_the_other_follows_ours_or_theirs(
    repo: Repository,
) -> None:
    _diverge(
        repo,
        {"w": np.ones(2, F32), "keep": np.ones(1, F32)},
        {},
        {"w": np.full(2, 7, F32)},
        removed_ours=("w",),
    )
    plan = repo.merge("exp", strategy="ours", dry_run=True)
    assert [(t.name, t.outcome, t.conflict) for t in plan.tensors] == [
        ("keep", "ours", False),
        ("w", "deleted", True),
    ]
    assert repo.merge("exp", strategy="theirs", dry_run=True).tensors[1].outcome == "theirs"
    before = _state(repo)
    with pytest.raises(MergeConflictError, match="removed on our side") as caught:
        repo.merge("exp", strategy="average")
    assert caught.value.conflicts == ["w"]
    assert _state(repo) == before
    repo.merge("exp", strategy="average", overrides={"w": "theirs"})
    assert_bit_exact(repo.get_weight("w").data, np.full(2, 7, F32))


def test_shape_or_dtype_mismatches_stop_the_merge_before_anything_is_written(
    repo: Repository,
) -> None:
    _diverge(
        repo,
        {"emb": np.zeros((4, 2), F32), "head": np.zeros(3, F32), "ok": np.zeros(2, F32)},
        {"emb": np.ones((5, 2), F32), "head": np.ones(3, F32), "ok": np.ones(2, F32)},
        {"emb": np.ones((6, 2), F32), "head": np.ones(3, np.float64), "ok": np.full(2, 3, F32)},
    )
    before = _state(repo)
    with pytest.raises(MergeConflictError, match="cannot be combined") as caught:
        repo.merge("exp", strategy="average")
    assert caught.value.conflicts == ["emb", "head"]
    assert "float32[5, 2]" in caught.value.reasons["emb"]
    assert "float64[3]" in caught.value.reasons["head"]
    assert _state(repo) == before
    plan = repo.merge("exp", strategy="average", dry_run=True)  # a dry run shows them
    assert not plan.ok and sorted(plan.unresolved) == ["emb", "head"]


def test_integer_and_bool_weights_are_never_averaged(repo: Repository) -> None:
    _diverge(
        repo,
        {"step": np.array(10), "mask": np.array([True, False]), "w": np.zeros(2, F32)},
        {"step": np.array(20), "mask": np.array([True, True]), "w": np.ones(2, F32)},
        {"step": np.array(30), "mask": np.array([False, False]), "w": np.full(2, 3, F32)},
    )
    plan = repo.merge("exp", strategy="average", dry_run=True)
    assert {t.name: t.strategy for t in plan.tensors} == {
        "mask": "ours, as bool is not averaged",
        "step": "ours, as int64 is not averaged",
        "w": "average",
    }
    with pytest.raises(MergeConflictError, match="never averaged") as caught:
        repo.merge("exp", strategy="average", non_float="fail")
    assert caught.value.conflicts == ["mask", "step"]
    repo.merge("exp", strategy="average", non_float="theirs")
    merged = _weights(repo)
    assert merged["step"].tobytes() == np.array(30).tobytes()
    assert merged["mask"].tolist() == [False, False]
    assert_bit_exact(merged["w"], np.full(2, 2, F32))


def test_ties_trims_elects_signs_and_averages_agreeing_values(repo: Repository) -> None:
    base = np.zeros(6, F32)
    _diverge(
        repo,
        {"w": base},
        {"w": np.array([4, -1, 2, 0.5, -3, 1], F32)},
        {"w": np.array([2, 3, -2, 0.5, -1, 0], F32)},
    )
    # Trimmed to the 3 largest magnitudes: ours [4, 0, 2, 0, -3, 0], theirs [2, 3, -2, 0, 0, 0]
    # (a tie at the threshold keeps both). Elected signs [+, +, 0, 0, -, 0]; agreeing values
    # averaged: [3, 3, 0, 0, -3, 0].
    repo.merge("exp", strategy="ties", density=0.5)
    assert_bit_exact(repo.get_weight("w").data, np.array([3, 3, 0, 0, -3, 0], F32))


def test_dare_is_seeded_drops_about_one_minus_density_and_rescales(repo: Repository) -> None:
    n = 20_000
    _diverge(repo, {"w": np.zeros(n, F32)}, {"w": np.ones(n, F32)}, {"w": np.full(n, -1, F32)})
    first = repo.merge("exp", strategy="dare", density=0.25, seed=7, dry_run=True)
    assert first.ok
    merged = repo.merge("exp", strategy="dare", density=0.25, seed=7)
    values = repo.get_weight("w").data
    # Each side keeps ~25% of its elements, scaled by 4: +4, -4, 0 (both or neither kept).
    assert set(np.unique(values).tolist()) <= {-4.0, 0.0, 4.0}
    assert abs(float(np.mean(values == 4)) - 0.25 * 0.75) < 0.02
    assert abs(float(np.mean(values == -4)) - 0.25 * 0.75) < 0.02
    for branch, seed, same in (("again", 7, True), ("other-seed", 8, False)):
        repo.create_branch(branch, from_ref=merged.parent_hashes[0])
        repo.checkout(branch)
        rerun = repo.merge("exp", strategy="dare", density=0.25, seed=seed)
        assert (rerun.weight_hashes == merged.weight_hashes) is same


def test_dare_with_sign_election_combines_like_ties(repo: Repository) -> None:
    _diverge(
        repo,
        {"w": np.zeros(4, F32)},
        {"w": np.array([1, -2, 3, 4], F32)},
        {"w": np.array([3, 2, -1, 0], F32)},
    )
    repo.merge("exp", strategy="dare", density=1.0, sign_election=True)
    # signs of the sums [+, 0, +, +]; agreeing means [2, 0, 3, 4]
    assert_bit_exact(repo.get_weight("w").data, np.array([2, 0, 3, 4], F32))


def test_slerp_interpolates_along_the_arc_and_is_linear_for_parallel_tensors(
    repo: Repository,
) -> None:
    _diverge(
        repo,
        {"w": np.zeros(2, F32), "p": np.zeros(2, F32)},
        {"w": np.array([1, 0], F32), "p": np.array([1, 1], F32)},
        {"w": np.array([0, 1], F32), "p": np.array([3, 3], F32)},
    )
    repo.merge("exp", strategy="slerp", t=0.5)
    half = F32(math.sin(math.pi / 4))
    assert_bit_exact(repo.get_weight("w").data, np.array([half, half], F32))
    assert_bit_exact(repo.get_weight("p").data, np.array([2, 2], F32))


def test_bfloat16_weights_are_merged_in_float32_and_rounded_once(repo: Repository) -> None:
    bf16 = ml_dtypes.bfloat16
    _diverge(
        repo,
        {"w": np.array([1, 1], bf16)},
        {"w": np.array([1.5, 2], bf16)},
        {"w": np.array([2, 3], bf16)},
    )
    repo.merge("exp", strategy="average")
    merged = repo.get_weight("w").data
    assert merged.dtype == bf16
    assert_bit_exact(merged, np.array([1.75, 2.5], bf16))


def test_overrides_pick_a_strategy_per_name_first_match_wins(repo: Repository) -> None:
    _diverge(
        repo,
        {"a.bias": np.zeros(1, F32), "a.weight": np.zeros(1, F32), "emb": np.zeros(1, F32)},
        {"a.bias": np.ones(1, F32), "a.weight": np.ones(1, F32), "emb": np.ones(1, F32)},
        {"a.bias": np.full(1, 3, F32), "a.weight": np.full(1, 3, F32), "emb": np.full(1, 3, F32)},
    )
    overrides = {
        "*.bias": "average",
        "a.*": "theirs",
        "emb": {"strategy": "weighted", "merge_alpha": 0.25},
    }
    merge = repo.merge("exp", strategy="ours", overrides=overrides)
    merged = _weights(repo)
    assert merged["a.bias"].tolist() == [2.0]
    assert merged["a.weight"].tolist() == [3.0]
    assert merged["emb"].tolist() == [2.5]  # 0.25 * 1 + 0.75 * 3
    assert merge.metadata.extra["merge"]["overrides"] == {
        "*.bias": {"strategy": "average"},
        "a.*": {"strategy": "theirs"},
        "emb": {"strategy": "weighted", "params": {"merge_alpha": 0.25}},
    }


def test_the_merge_commit_records_how_it_was_made(conflict: Repository) -> None:
    base = conflict.version_graph.get_common_ancestor("main", "exp")
    merge = conflict.merge("exp", strategy="ties", density=0.4, lambda_=0.8)
    record = merge.metadata.extra["merge"]
    assert record == {
        "source": "exp",
        "source_commit": conflict.resolve_ref("exp"),
        "base": base,
        "strategy": "ties",
        "params": {"density": 0.4, "lambda": 0.8, "weights": [1.0, 1.0]},
        "non_float": "ours",
        "resolved": {"layer1.weight": "ties"},
    }
    assert "ties" in conflict.get_commit().metadata.extra["merge"]["strategy"]


def test_fast_forward_moves_the_branch_without_a_merge_commit(repo: Repository) -> None:
    a = _commit(repo, "A", w=np.zeros(2, F32))
    repo.create_branch("feature")
    repo.checkout("feature")
    _commit(repo, "C", w=np.ones(2, F32))
    d = _commit(repo, "D", w=np.full(2, 2, F32))
    repo.checkout("main")
    assert repo.merge("feature", dry_run=True).kind == "fast-forward"
    result = repo.merge("feature")
    assert result.commit_hash == d.commit_hash and not result.is_merge_commit
    assert repo.head.branch == "main" and repo.head.commit_hash == d.commit_hash
    assert [c.metadata.message for c in repo.log()] == ["D", "C", "A"]
    reflog = repo.parts.refs.reflog("HEAD")
    assert reflog[-1].message == "merge feature: Fast-forward"
    assert reflog[-1].old == a.commit_hash


def test_merging_an_ancestor_or_itself_is_up_to_date_and_writes_nothing(
    repo: Repository,
) -> None:
    _commit(repo, "A", w=np.zeros(2, F32))
    repo.create_branch("old")
    head = _commit(repo, "B", w=np.ones(2, F32))
    before = _state(repo)
    for ref in ("old", "main", "HEAD", head.commit_hash):
        plan = repo.merge(ref, dry_run=True)
        assert plan.kind == "up-to-date" and "Already up to date" in str(plan)
        assert repo.merge(ref, strategy="average").commit_hash == head.commit_hash
    assert _state(repo) == before


def test_merging_into_an_unborn_branch_fast_forwards(repo: Repository) -> None:
    _commit(repo, "A", w=np.zeros(2, F32))
    repo.create_branch("other")
    repo.parts.refs.set_head_branch("fresh")
    assert repo.merge("other").commit_hash == repo.resolve_ref("other")
    assert repo.resolve_ref("fresh") == repo.resolve_ref("other")


def test_criss_cross_histories_merge_against_the_virtual_merge_of_their_bases(
    repo: Repository,
) -> None:
    zeros = np.zeros(2, F32)
    _commit(repo, "root", w=zeros, u=zeros, v=zeros)
    repo.create_branch("b")
    _commit(repo, "a1", w=np.ones(2, F32), u=np.ones(2, F32))
    repo.checkout("b")
    _commit(repo, "b1", v=np.ones(2, F32))
    a1, b1 = repo.resolve_ref("main"), repo.resolve_ref("b")
    repo.merge("main", strategy="ours")  # b merges a1 ...
    repo.checkout("main")
    repo.merge(b1, strategy="ours")  # ... and main merges b1: criss-cross
    _commit(repo, "a2", w=np.full(2, 2, F32))
    repo.checkout("b")
    _commit(repo, "b2", w=np.full(2, 4, F32), u=np.full(2, 5, F32))
    repo.checkout("main")

    plan = repo.merge("b", strategy="average", dry_run=True)
    assert set(plan.bases) == {a1, b1}  # both best common ancestors, not the root
    # u: a1 set it to 1, which both sides kept; only b2 changed it. Against b1 alone (u = 0)
    # it would look changed on both sides; the virtual base (a1 and b1 merged) knows better.
    assert {t.name: (t.outcome, t.conflict) for t in plan.tensors} == {
        "u": ("theirs", False),
        "v": ("ours", False),
        "w": ("merged", True),
    }
    merge = repo.merge("b", strategy="average")
    assert merge.metadata.extra["merge"]["bases"] == list(plan.bases)
    merged = _weights(repo)
    assert_bit_exact(merged["w"], np.full(2, 3, F32))
    assert_bit_exact(merged["u"], np.full(2, 5, F32))
    assert_bit_exact(merged["v"], np.ones(2, F32))


def test_a_dry_run_returns_the_plan_and_writes_nothing(conflict: Repository) -> None:
    before = _state(conflict)
    plan = conflict.merge("exp", strategy="average", dry_run=True)
    assert isinstance(plan, MergePlan) and plan.kind == "merge"
    assert plan.conflicts == ["layer1.weight"]
    assert plan.tensors[0].strategy == "average" and plan.tensors[0].outcome == "merged"
    assert "conflict layer1.weight: merged via average" in str(plan)
    assert _state(conflict) == before


def test_unrelated_histories_are_refused_unless_allowed(repo: Repository) -> None:
    _commit(repo, "A", w=np.zeros(2, F32))
    repo.parts.refs.set_head_branch("other")
    _commit(repo, "X", w=np.ones(2, F32))
    before = _state(repo)
    with pytest.raises(InvalidValueError, match="unrelated histories"):
        repo.merge("main")
    assert _state(repo) == before
    with pytest.raises(MergeConflictError, match="no base version"):
        repo.merge("main", strategy="ties", allow_unrelated=True)
    repo.merge("main", strategy="average", allow_unrelated=True)
    assert_bit_exact(repo.get_weight("w").data, np.full(2, 0.5, F32))


def test_staged_weights_block_a_merge(conflict: Repository) -> None:
    conflict.stage_weights({"new": np.ones(1, F32)})
    with pytest.raises(StagedChangesError, match="reset"):
        conflict.merge("exp")
    assert conflict.merge("exp", dry_run=True).kind == "merge"  # looking is fine


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"strategy": "median"}, "unknown merge strategy 'median'"),
        ({"strategy": "ties", "densty": 0.5}, "ties takes no parameter 'densty'"),
        ({"strategy": "ties", "density": 0}, r"density: expected a number in \(0, 1\]"),
        ({"strategy": "dare", "density": 1.5}, r"density: expected a number in \(0, 1\]"),
        ({"strategy": "slerp", "t": 2}, r"t: expected a number in \[0, 1\]"),
        ({"strategy": "task_arithmetic", "lambda_": float("nan")}, "finite number"),
        ({"strategy": "ties", "weights": (1,)}, "two numbers"),
        ({"strategy": "ties", "weights": (0, 0)}, "not both 0"),
        ({"strategy": "dare", "seed": -1}, "seed must be an integer"),
        ({"strategy": "dare", "rescale": "yes"}, "True or False"),
        ({"strategy": "average", "merge_alpha": 0.3}, "merge_alpha applies to strategy"),
        ({"strategy": "weighted", "merge_alpha": 1.5}, r"merge_alpha: expected a number"),
        ({"strategy": "ours", "density": 0.5}, "takes no parameters"),
        ({"non_float": "average"}, "non_float must be"),
        ({"overrides": {"x": {"merge_alpha": 0.1}}}, "needs a 'strategy' entry"),
        ({"overrides": {"x": "blend"}}, "unknown merge strategy 'blend'"),
        ({"overrides": ["*"]}, "overrides must be a mapping of glob -> strategy"),
        ({"overrides": "*"}, "overrides must be a mapping of glob -> strategy"),
        ({"overrides": [("*", "ours")]}, "overrides must be a mapping of glob -> strategy"),
        ({"overrides": {1: "ours"}}, "override patterns must be non-empty globs"),
        ({"overrides": {"": "ours"}}, "override patterns must be non-empty globs"),
        ({"overrides": {"x": 3}}, "unknown merge strategy 3"),
        ({"overrides": {"x": {"strategy": "ours", "merge_alpha": 0.1}}}, "takes no parameters"),
    ],
)
def test_bad_arguments_get_one_clear_error_and_change_nothing(
    conflict: Repository, kwargs: dict, message: str
) -> None:
    before = _state(conflict)
    for dry_run in (True, False):
        with pytest.raises(InvalidValueError, match=message):
            conflict.merge("exp", dry_run=dry_run, **kwargs)
    assert _state(conflict) == before


def test_merged_tensors_are_stored_as_deltas_against_ours(repo: Repository) -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal((256, 256)).astype(F32)
    _diverge(
        repo,
        {"w": base},
        {"w": (base * 0.999).astype(F32)},
        {"w": (base * 1.001).astype(F32)},
    )
    merge = repo.merge("exp", strategy="average")
    ours_oid = repo.get_commit("main~1").weight_hashes["w"]
    assert ours_oid in merge.delta_weights.get("w", "")
    assert_bit_exact(
        reopen(repo).get_weight("w").data,
        (base * 0.999).astype(F32) * F32(0.5) + (base * 1.001).astype(F32) * F32(0.5),
    )
    assert repo.fsck().ok


def test_a_commit_racing_the_merge_is_not_overwritten(
    conflict: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coral.errors import ConcurrentUpdateError
    from coral.merge.runner import MergeRunner

    real = MergeRunner._store_merged

    def store_then_someone_commits(self: MergeRunner, *args: object) -> dict[str, str]:
        merged = real(self, *args)  # type: ignore[arg-type]
        other = reopen(conflict)  # a second writer of the same repository
        other.stage_weights({"late": np.ones(1, F32)})
        other.commit("landed while merging")
        return merged

    monkeypatch.setattr(MergeRunner, "_store_merged", store_then_someone_commits)
    with pytest.raises(ConcurrentUpdateError, match="run the merge again"):
        conflict.merge("exp", strategy="average")
    assert conflict.get_commit().metadata.message == "landed while merging"


def test_the_chapter_merge_examples_run_as_written(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "chapter", init=True)
    _diverge(
        repo,
        {"layer1.weight": np.array([1, 2, 3], F32), "layer2.bias": np.zeros(2, F32)},
        {"layer1.weight": np.array([1, 2, 4], F32), "layer2.bias": np.ones(2, F32)},
        {"layer1.weight": np.array([1, 5, 3], F32), "layer2.bias": np.full(2, 2, F32)},
    )
    for name in (
        "experiment-lr",
        "experiment-dropout",
        "experiment-ensemble",
        "experiment-fine-tuned",
    ):
        repo.create_branch(name, from_ref="exp")

    with pytest.raises(MergeConflictError) as caught:
        merge_commit = repo.merge("experiment-dropout", strategy=MergeStrategy.FAIL)
    assert caught.value.conflicts == ["layer1.weight", "layer2.bias"]
    merge_commit = repo.merge(
        "experiment-fine-tuned", strategy=MergeStrategy.WEIGHTED, merge_alpha=0.7
    )
    assert merge_commit.is_merge_commit
    expected = F32(0.7) * np.array([1, 2, 4], F32) + F32(0.3) * np.array([1, 5, 3], F32)
    np.testing.assert_array_equal(repo.get_weight("layer1.weight").data, expected)
    ancestor_hash = repo.version_graph.get_common_ancestor(
        commit1_hash=merge_commit.parent_hashes[0], commit2_hash=merge_commit.parent_hashes[1]
    )
    ancestor_commit = repo.version_graph.get_commit(ancestor_hash)
    assert ancestor_commit.metadata.message == "base"


def _merge_peak_memory(path: Path, count: int, size: int) -> int:
    import tracemalloc

    repo = Repository(path, init=True)
    repo.config.set("core.delta_cache_mb", 0)  # measure the merge, not the decoded-base cache
    repo = Repository(path)
    rng = np.random.default_rng(0)
    base = {f"w{i}": rng.standard_normal(size).astype(F32) for i in range(count)}
    _diverge(
        repo,
        base,
        {k: v + F32(1) for k, v in base.items()},
        {k: v - F32(1) for k, v in base.items()},
    )
    tracemalloc.start()
    try:
        repo.merge("exp", strategy="ties")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(repo.get_all_weights()) == count
    return peak


def test_a_merge_streams_tensor_by_tensor(tmp_path: Path) -> None:
    size = 1 << 19
    few = _merge_peak_memory(tmp_path / "few", 2, size)
    many = _merge_peak_memory(tmp_path / "many", 16, size)
    # Memory follows the largest tensor, not the model: 8x the tensors, about the same peak.
    assert many < 1.5 * few, (few / (4 * size), many / (4 * size))


def test_show_tells_how_a_merge_was_made_and_its_arguments_re_run_it(repo: Repository) -> None:
    rng = np.random.default_rng(3)
    base = {f"l{i}": rng.standard_normal(300).astype(F32) for i in range(3)}
    _diverge(
        repo,
        {**base, "step": np.array(1)},
        {**{k: v + F32(0.5) for k, v in base.items()}, "step": np.array(2)},
        {**{k: v * F32(0.5) for k, v in base.items()}, "step": np.array(3)},
    )
    overrides = {"l0": {"strategy": "weighted", "merge_alpha": 0.25}}
    merge = repo.merge(
        "exp", strategy="dare", density=0.5, seed=11, overrides=overrides, non_float="theirs"
    )
    view = repo.show("main")
    assert view.commit == merge and view.head and view.branches == ["main"]
    assert view.changes["summary"]["total_modified"] == 4
    text = str(view)
    assert "Merge: " in text and "strategy dare" in text and "density=0.5" in text
    assert "override l0: weighted" in text and "step: theirs, as int64 is not averaged" in text

    arguments = view.merge_arguments
    assert arguments is not None
    repo.create_branch("rerun", from_ref=merge.parent_hashes[0])
    repo.checkout("rerun")
    again = repo.merge(**arguments)
    assert again.weight_hashes == merge.weight_hashes
    assert repo.show("HEAD").merge_arguments == arguments
    assert repo.show("main~1").merge is None and repo.show("main~1").merge_arguments is None


def test_staged_entries_equal_to_head_are_dropped_so_they_cannot_revert_the_merge(
    conflict: Repository,
) -> None:
    ours = conflict.get_weight("layer1.weight").data.copy()
    conflict.stage_weights({"layer1.weight": ours})  # staged, but identical to HEAD
    assert not conflict.status().has_changes
    conflict.merge("exp", strategy="average")
    assert conflict.status().clean
    merged = conflict.get_weight("layer1.weight").data
    assert_bit_exact(merged, np.array([1, 3.5, 3.5], F32))


def test_three_merge_bases_are_merged_like_git_recursive_whatever_their_order(
    repo: Repository,
) -> None:
    x, y, z, w = (np.full(2, v, F32) for v in (0, 1, 2, 3))
    _commit(repo, "R", w=x, a=np.zeros(2, F32), b=np.zeros(2, F32))
    repo.create_branch("s")
    repo.checkout("s")
    _commit(repo, "S", w=y)
    repo.create_branch("b1")
    repo.checkout("b1")
    _commit(repo, "B1", b=np.ones(2, F32))
    repo.checkout("s")
    repo.create_branch("b2")
    repo.checkout("b2")
    _commit(repo, "B2", w=z)
    repo.checkout("main")
    repo.create_branch("b0")
    repo.checkout("b0")
    _commit(repo, "B0", a=np.ones(2, F32))
    repo.create_branch("o")  # ours: B0 + B1 + B2
    repo.checkout("o")
    repo.merge("b1", "fail")
    repo.merge("b2", "fail")
    repo.checkout("b1")  # theirs: B1 + B2 + B0, then a change of w
    repo.create_branch("t")
    repo.checkout("t")
    repo.merge("b2", "fail")
    repo.merge("b0", "fail")
    _commit(repo, "T changes w", w=w)
    repo.checkout("o")
    plan = repo.merge("t", strategy="fail", dry_run=True)
    assert len(plan.bases) == 3 and plan.ok  # only theirs changed w since the bases
    repo.merge("t", strategy="fail")
    assert_bit_exact(repo.get_weight("w").data, w)


def test_a_stale_staged_removal_cannot_delete_what_a_merge_brings_in(repo: Repository) -> None:
    _commit(repo, "A", a=np.zeros(2, F32))
    repo.create_branch("exp")
    repo.checkout("exp")
    _commit(repo, "adds new", new=np.ones(2, F32))
    repo.checkout("main")
    repo.stage_weights({"new": np.ones(2, F32)})
    repo.stage_removal("new")  # staged, then unstaged by removal: status looks clean
    assert repo.status().clean
    repo.merge("exp")  # fast-forward brings "new" in
    _commit(repo, "unrelated", a=np.full(2, 5, F32))
    assert "new" in repo.get_commit().weight_hashes


def test_a_merge_of_unrelated_histories_re_runs_from_its_record(repo: Repository) -> None:
    _commit(repo, "A", w=np.zeros(2, F32))
    repo.parts.refs.set_head_branch("other")  # an orphan branch
    _commit(repo, "X", w=np.ones(2, F32))
    merge = repo.merge("main", strategy="average", allow_unrelated=True)
    arguments = repo.show().merge_arguments
    assert arguments is not None and arguments["allow_unrelated"] is True
    repo.create_branch("again", from_ref=merge.parent_hashes[0])
    repo.checkout("again")
    assert repo.merge(**arguments).weight_hashes == merge.weight_hashes


def test_ties_keeps_nan_changes_instead_of_dropping_a_side() -> None:
    from coral.merge.methods import METHODS, combine, validate_params

    ties = METHODS["ties"]
    base = np.zeros(4, F32)
    ours = np.array([np.nan, 1, 2, 3], F32)
    theirs = np.array([0, 1, 2, 3], F32)
    merged = combine(ties, ours, theirs, base, validate_params(ties, {"density": 0.25}), "w")
    assert np.isnan(merged[0]) and merged[3] == 3.0


def test_overrides_that_are_not_a_mapping_raise_a_coral_value_error() -> None:
    from coral.merge.plan import Resolution, StrategyChooser

    with pytest.raises(InvalidValueError) as caught:
        StrategyChooser(Resolution.build("average", {}), ["*"])  # type: ignore[arg-type]
    assert isinstance(caught.value, CoralError) and isinstance(caught.value, ValueError)
    assert "got list ['*']" in str(caught.value)


def test_a_merge_commit_is_labelled_merge_and_a_fast_forward_is_not(repo: Repository) -> None:
    _diverge(repo, {"w": np.zeros(2, F32)}, {"w": np.ones(2, F32)}, {"w": np.full(2, 3, F32)})
    merge = repo.merge("exp", strategy="average")
    assert merge.metadata.tags == ["merge"]
    assert reopen(repo).get_commit(merge.commit_hash).metadata.tags == ["merge"]
    repo.create_branch("behind", from_ref="exp")
    repo.checkout("behind")
    fast_forward = repo.merge("main")
    assert fast_forward.commit_hash == merge.commit_hash  # no commit of its own to label
    repo.create_branch("older", from_ref="exp~1")
    repo.checkout("older")
    theirs = repo.merge("exp")  # from the merge base: a fast-forward to exp, unlabelled
    assert not theirs.is_merge_commit and theirs.metadata.tags == []


def _bits(dtype: type, words: list[int]) -> np.ndarray:
    """An array of ``dtype`` with exactly these bit patterns."""
    unsigned = {2: np.uint16, 4: np.uint32}[np.dtype(dtype).itemsize]
    return np.array(words, unsigned).view(dtype)


# NaN payloads (quiet and signalling), -0.0, an infinity, a subnormal and ordinary numbers: a
# float32 round trip or ``x * 1 + y * 0`` changes the first two and the -0.0.
_HOSTILE = {
    "bf16": _bits(BF16, [0x7F81, 0xFFA5, 0x8000, 0x7F80, 0x0001, 0x3F80, 0xC2F7]),
    "f16": _bits(np.float16, [0x7C01, 0xFE55, 0x8000, 0xFC00, 0x0001, 0x3C00, 0x5A3F]),
    "f32": _bits(np.float32, [0x7F800001, 0xFFC00123, 0x80000000, 0x7F800000, 1, 0x3F800000, 7]),
}


def _ordinary(arr: np.ndarray, scale: float) -> np.ndarray:
    return (np.arange(arr.size, dtype=F32) * scale + 1).astype(arr.dtype).reshape(arr.shape)


@pytest.mark.parametrize(
    ("strategy", "params", "side"),
    [
        ("weighted", {"merge_alpha": 1.0}, "ours"),
        ("weighted", {"merge_alpha": 0.0}, "theirs"),
        ("slerp", {"t": 0.0}, "ours"),
        ("slerp", {"t": 1.0}, "theirs"),
        ("task_arithmetic", {"weights": (1, 0)}, "ours"),
        ("task_arithmetic", {"weights": (0, 4), "lambda_": 0.25}, "theirs"),
        ("ties", {"density": 1.0, "weights": (0, 3)}, "theirs"),
        ("dare", {"density": 1.0, "weights": (2, 0), "sign_election": True}, "ours"),
        ("dare", {"density": 1.0, "weights": (0.5, 0), "lambda_": 2.0}, "ours"),
    ],
)
@pytest.mark.parametrize("hostile", ["ours", "theirs"])
def test_parameters_whose_result_is_one_side_take_its_stored_weight_bit_for_bit(
    repo: Repository, strategy: str, params: dict, side: str, hostile: str
) -> None:
    plain = {name: _ordinary(arr, 0.5) for name, arr in _HOSTILE.items()}
    base = {name: _ordinary(arr, 0.25) for name, arr in _HOSTILE.items()}
    ours, theirs = (_HOSTILE, plain) if hostile == "ours" else (plain, _HOSTILE)
    _diverge(repo, base, ours, theirs)
    side_commit = repo.get_commit("main" if side == "ours" else "exp")
    plan = repo.merge("exp", strategy=strategy, dry_run=True, **params)
    merge = repo.merge("exp", strategy=strategy, **params)
    expected = ours if side == "ours" else theirs
    for name in _HOSTILE:
        assert_bit_exact(repo.get_weight(name).data, expected[name])
        assert merge.weight_hashes[name] == side_commit.weight_hashes[name]  # the same object
    assert {t.name: (t.outcome, t.strategy) for t in plan.tensors} == {
        name: (side, strategy) for name in _HOSTILE
    }
    assert f"conflict bf16: {side} ({strategy})" in str(plan)
    assert merge.metadata.extra["merge"]["resolved"] == dict.fromkeys(_HOSTILE, strategy)


def test_entries_never_combined_are_taken_whole_whatever_their_shapes(repo: Repository) -> None:
    _commit(repo, "base", w=np.zeros(2, F32), ids=np.arange(3))
    repo.stage_files({"config.json": b'{"hidden": 8}'})
    repo.commit("config")
    repo.create_branch("exp")
    _commit(repo, "ours", w=np.ones(2, F32), ids=np.arange(5))
    repo.stage_files({"config.json": b'{"hidden": 16}'})
    repo.commit("ours' config")
    repo.checkout("exp")
    _commit(repo, "theirs", w=np.full(2, 3, F32), ids=np.arange(4).astype(np.int32))
    repo.stage_files({"config.json": b'{"hidden": 128, "layers": 2}'})
    repo.commit("theirs' config")
    repo.checkout("main")

    for strategy, params in (("average", {}), ("ties", {"density": 1.0})):
        for side in ("ours", "theirs"):
            plan = repo.merge("exp", strategy, non_float=side, dry_run=True, **params)
            assert plan.ok
            assert {t.name: t.outcome for t in plan.tensors} == {
                "__file__/config.json": side,
                "ids": side,
                "w": "merged",
            }
    plan = repo.merge("exp", strategy="average", dry_run=True)
    assert "conflict __file__/config.json: ours, as a model file is not averaged" in str(plan)
    before = _state(repo)
    with pytest.raises(MergeConflictError) as caught:
        repo.merge("exp", strategy="ties", non_float="fail")
    assert caught.value.reasons == {
        "__file__/config.json": "a model file is never averaged (non_float='fail')",
        "ids": "int64 is never averaged (non_float='fail')",
    }
    assert _state(repo) == before
    repo.merge("exp", strategy="average", non_float="theirs")
    assert repo.get_files() == {"config.json": b'{"hidden": 128, "layers": 2}'}
    assert_bit_exact(repo.get_weight("ids").data, np.arange(4).astype(np.int32))
    assert_bit_exact(repo.get_weight("w").data, np.full(2, 2, F32))


def _optimizer_entries(commit: Commit) -> dict[str, str]:
    return {n: h for n, h in commit.weight_hashes.items() if n.startswith("__optimizer__/")}


def _adamw_steps(model: object, lr: float, seed: int, steps: int, only: str = "") -> object:
    """An AdamW after ``steps`` steps on ``model``; with ``only``, just the parameters under
    that prefix get gradients (AdamW leaves the others' state as it was)."""
    torch = pytest.importorskip("torch")
    assert isinstance(model, torch.nn.Module)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = sum(
            (p * torch.randn(p.shape, generator=generator)).sum()
            for name, p in model.named_parameters()
            if name.startswith(only)
        )
        loss.backward()
        optimizer.step()
    return optimizer


@pytest.mark.parametrize("strategy", ["average", "ties"])
@pytest.mark.parametrize("non_float", ["ours", "theirs"])
def test_two_runs_with_optimizer_state_merge_their_weights_and_keep_one_optimizer_whole(
    repo: Repository, strategy: str, non_float: str
) -> None:
    torch = pytest.importorskip("torch")
    from coral.integrations.pytorch import pytorch_to_coral
    from coral.merge.methods import METHODS, combine, validate_params

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    repo.stage_weights(pytorch_to_coral(model))
    repo.stage_files({"config.json": b'{"lr": null}'})
    base = repo.commit("pretrained")
    runs = {}
    for branch, lr, seed in (("run-a", 1e-3, 1), ("run-b", 3e-4, 2)):
        model.load_state_dict(start)
        optimizer = _adamw_steps(model, lr, seed, steps=3)
        repo.create_branch(branch, from_ref=base.commit_hash)
        repo.checkout(branch)
        repo.stage_weights(pytorch_to_coral(model))
        repo.stage_files({"config.json": f'{{"lr": {lr}}}'.encode()})
        repo.stage_optimizer_state(optimizer)
        runs[branch] = repo.commit(f"train {branch}")
    ours, theirs = runs["run-a"], runs["run-b"]
    structure = "__optimizer__/structure.json"
    sizes = {repo.store.read(c.weight_hashes[structure]).size for c in (ours, theirs)}
    assert len(sizes) == 2  # uint8 arrays of different lengths

    repo.checkout("run-a")
    merge = repo.merge("run-b", strategy=strategy, non_float=non_float)
    assert merge.is_merge_commit
    method = METHODS[strategy]
    params = validate_params(method, {})
    for name in start:
        o, t, b = (
            repo.get_weight(name, commit_ref=c.commit_hash).data for c in (ours, theirs, base)
        )
        expected = combine(method, o, t, b, params, name)
        assert_bit_exact(repo.get_weight(name).data, expected)
        assert expected.tobytes() not in (o.tobytes(), t.tobytes())  # really combined
    side = ours if non_float == "ours" else theirs
    assert _optimizer_entries(merge) == _optimizer_entries(side)  # the same objects, all of them
    assert repo.get_files() == repo.get_files(side.commit_hash)
    restored = torch.optim.AdamW(model.parameters())
    repo.load_optimizer_state(restored)
    assert restored.param_groups[0]["lr"] == (1e-3 if non_float == "ours" else 3e-4)


def test_an_optimizer_state_changed_on_both_sides_is_never_a_mix_of_two_runs(
    repo: Repository,
) -> None:
    torch = pytest.importorskip("torch")
    from coral.integrations.pytorch import pytorch_to_coral

    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"a": torch.nn.Linear(2, 2), "b": torch.nn.Linear(2, 2)})
    optimizer = _adamw_steps(model, 1e-3, 0, steps=1)
    repo.stage_weights(pytorch_to_coral(model))
    repo.stage_optimizer_state(optimizer)
    base = repo.commit("one step on everything")
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    first = optimizer.state_dict()  # type: ignore[attr-defined]
    runs = {}
    for branch, only in (("ours", "a."), ("theirs", "b.")):
        model.load_state_dict(trained)
        resumed = torch.optim.AdamW(model.parameters())
        resumed.load_state_dict(copy.deepcopy(first))  # it would update first's tensors
        _adamw_continue(resumed, model, only)
        repo.create_branch(branch, from_ref=base.commit_hash)
        repo.checkout(branch)
        repo.stage_weights(pytorch_to_coral(model))
        repo.stage_optimizer_state(resumed)
        runs[branch] = repo.commit(f"train {only}* only")
    # Each run changed only its own parameters' moments: entry by entry, nothing conflicts.
    changed = {
        branch: {n for n, h in _optimizer_entries(c).items() if h != base.weight_hashes[n]}
        for branch, c in runs.items()
    }
    assert changed["ours"] and changed["theirs"] and not changed["ours"] & changed["theirs"]

    repo.checkout("ours")
    with pytest.raises(MergeConflictError, match="strategy is 'fail'") as caught:
        repo.merge("theirs", strategy="fail")
    assert caught.value.conflicts == sorted(changed["ours"] | changed["theirs"])
    plan = repo.merge("theirs", strategy="ties", dry_run=True)
    assert all(
        (t.outcome, t.reason) == ("ours", "optimizer state changed on both sides")
        for t in plan.tensors
        if t.name in changed["theirs"]
    )
    merge = repo.merge("theirs", strategy="ties")
    assert _optimizer_entries(merge) == _optimizer_entries(runs["ours"])
    repo.create_branch("other-way", from_ref=runs["ours"].commit_hash)
    repo.checkout("other-way")
    with pytest.raises(MergeConflictError, match="overrides differ on which"):
        repo.merge("theirs", strategy="average", overrides={"__optimizer__/state/0/*": "theirs"})
    merge = repo.merge("theirs", strategy="average", non_float="theirs")
    assert _optimizer_entries(merge) == _optimizer_entries(runs["theirs"])


def _adamw_continue(optimizer: object, model: object, only: str) -> None:
    """One more step of ``optimizer``, with gradients for the parameters under ``only``."""
    torch = pytest.importorskip("torch")
    assert isinstance(optimizer, torch.optim.Optimizer) and isinstance(model, torch.nn.Module)
    optimizer.zero_grad(set_to_none=True)
    sum(p.sum() for name, p in model.named_parameters() if name.startswith(only)).backward()
    optimizer.step()
