"""Merge properties over random histories and arrays of every dtype."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coral.core.dtypes import FLOAT_DTYPE_NAMES
from coral.merge.methods import METHODS, combine, validate_params
from coral.version_control import MergeConflictError, Repository
from tests.helpers import assert_bit_exact
from tests.strategies import arrays

_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_CHANGES = st.sampled_from(["none", "ours", "theirs", "both", "both-same"])


def _bump(arr: np.ndarray, amount: int) -> np.ndarray:
    """A different array of the same dtype and shape (every byte changed)."""
    raw = (np.frombuffer(arr.tobytes(), np.uint8) + np.uint8(amount)).tobytes()
    if arr.dtype == np.bool_:
        raw = bytes((b & 1) ^ 1 for b in arr.tobytes())
    return np.frombuffer(raw, arr.dtype).reshape(arr.shape).copy()


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict, dict, dict, set[str]]:
    """base, ours, theirs (name -> array) and the names changed on both sides (differently)."""
    count = draw(st.integers(1, 5))
    base, ours, theirs, both = {}, {}, {}, set()
    for i in range(count):
        name = f"w{i}"
        arr = draw(arrays())
        if arr.size == 0:
            arr = np.zeros(2, arr.dtype)
        base[name] = ours[name] = theirs[name] = arr
        change = draw(_CHANGES)
        if change == "both" and arr.dtype == np.bool_:
            change = "both-same"  # a bool array has only one other value per element
        if change in ("ours", "both", "both-same"):
            ours[name] = _bump(arr, 1)
        if change == "theirs":
            theirs[name] = _bump(arr, 1)
        if change == "both":
            theirs[name] = _bump(arr, 2)
            both.add(name)
        if change == "both-same":
            theirs[name] = ours[name]
    return base, ours, theirs, both


def _repo(base: dict, ours: dict, theirs: dict) -> Repository:
    """A repository in memory (no directory per example) with ``exp`` diverged from main."""
    repo = Repository.in_memory()
    repo.stage_weights(base)
    repo.commit("base")
    repo.create_branch("exp")
    repo.stage_weights(ours)
    repo.commit("ours", allow_empty=True)
    repo.checkout("exp")
    repo.stage_weights(theirs)
    repo.commit("theirs", allow_empty=True)
    repo.checkout("main")
    return repo


@pytest.mark.slow
@given(histories(), st.sampled_from(["ours", "theirs"]))
@_SETTINGS
def test_ours_and_theirs_take_one_side_exactly(history: tuple, side: str) -> None:
    base, ours, theirs, _ = history
    repo = _repo(base, ours, theirs)
    repo.merge("exp", strategy=side)
    merged = {n: w.data for n, w in repo.get_all_weights().items()}
    for name in base:
        ours_changed = ours[name].tobytes() != base[name].tobytes()
        theirs_changed = theirs[name].tobytes() != base[name].tobytes()
        if ours_changed and theirs_changed:
            expected = ours[name] if side == "ours" else theirs[name]
        else:
            expected = ours[name] if ours_changed else theirs[name]
        assert_bit_exact(merged[name], expected)


@pytest.mark.slow
@given(histories())
@_SETTINGS
def test_fail_raises_on_exactly_the_names_changed_on_both_sides(history: tuple) -> None:
    base, ours, theirs, both = history
    repo = _repo(base, ours, theirs)
    if both:
        with pytest.raises(MergeConflictError) as caught:
            repo.merge("exp", strategy="fail")
        assert caught.value.conflicts == sorted(both)
    else:
        repo.merge("exp", strategy="fail")


@pytest.mark.slow
@given(histories())
@_SETTINGS
def test_merging_a_branch_into_itself_changes_nothing(history: tuple) -> None:
    base, ours, _, _ = history
    repo = _repo(base, ours, ours)
    head = repo.resolve_ref("HEAD")
    repo.create_branch("twin")
    for ref in ("main", "twin", "HEAD"):
        assert repo.merge(ref, strategy="average").commit_hash == head
    assert repo.resolve_ref("HEAD") == head


@given(
    arrays(dtype_names=tuple(sorted(FLOAT_DTYPE_NAMES))),
    st.sampled_from(["average", "weighted"]),
    st.floats(0, 1),
)
@settings(max_examples=200, deadline=None)
def test_averaging_equal_tensors_is_exact_for_every_bit_pattern(
    arr: np.ndarray, method: str, alpha: float
) -> None:
    params = validate_params(
        METHODS[method], {"merge_alpha": alpha} if method == "weighted" else {}
    )
    merged = combine(METHODS[method], arr, arr.copy(), None, params, "w")
    assert_bit_exact(merged, arr)


_ONE_SIDED = [
    ("weighted", {"merge_alpha": 1.0}, 0),
    ("weighted", {"merge_alpha": 0.0}, 1),
    ("slerp", {"t": 0.0}, 0),
    ("slerp", {"t": 1.0}, 1),
    ("task_arithmetic", {"weights": (1, 0)}, 0),
    ("task_arithmetic", {"weights": (0, 0.5), "lambda": 2.0}, 1),
    ("ties", {"density": 1.0, "weights": (5, 0)}, 0),
    ("dare", {"density": 1.0, "weights": (0, 1), "sign_election": True}, 1),
    ("dare", {"density": 1.0, "weights": (0, 1), "rescale": False}, 1),
]


@given(arrays(dtype_names=tuple(sorted(FLOAT_DTYPE_NAMES))), st.sampled_from(_ONE_SIDED))
@settings(max_examples=200, deadline=None)
def test_parameters_whose_result_is_one_side_return_it_for_every_bit_pattern(
    arr: np.ndarray, case: tuple[str, dict, int]
) -> None:
    method, params, side = case
    sides = (arr, _bump(arr, 1))
    checked = validate_params(METHODS[method], params)
    merged = combine(METHODS[method], *sides, _bump(arr, 2), checked, "w")
    assert_bit_exact(merged, sides[side])


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("average", {}),
        ("weighted", {"merge_alpha": 0.999}),
        ("slerp", {"t": 1e-9}),
        ("task_arithmetic", {"lambda": 0.0}),  # the base, which is neither side
        ("task_arithmetic", {"weights": (1, 0), "lambda": 0.5}),
        ("ties", {"density": 0.9, "weights": (1, 0)}),  # trimmed: part of the change is lost
        ("ties", {"density": 1.0, "weights": (1, 0), "lambda": 2.0}),
        ("dare", {"density": 0.99, "weights": (1, 0)}),
        ("dare", {"density": 1.0, "weights": (2, 0)}),  # without sign election: twice tau
    ],
)
def test_parameters_that_mix_or_rescale_the_changes_are_computed(method: str, params: dict) -> None:
    assert METHODS[method].exact_side(validate_params(METHODS[method], params)) is None
