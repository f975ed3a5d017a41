"""Reading weights back: bit-exact, lazily, with clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coral.errors import RefNotFoundError, WeightNotFoundError
from coral.version_control import LazyWeights, Repository
from tests.helpers import assert_bit_exact
from tests.strategies import arrays


@given(
    weights=st.dictionaries(
        st.text("abcdef.", min_size=1, max_size=6), arrays(), min_size=1, max_size=5
    )
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_every_committed_array_reads_back_bit_exact(
    repo: Repository, weights: dict[str, np.ndarray]
) -> None:
    repo.stage_weights(weights, remove_missing=True)
    commit = repo.commit("property", allow_empty=True)
    back = repo.get_all_weights(commit.commit_hash)
    assert set(back) == set(weights)
    for name, arr in weights.items():
        assert_bit_exact(back[name].data, arr)
        assert_bit_exact(repo.get_weight(name, commit.commit_hash).data, arr)


def test_old_commits_keep_their_weights(repo: Repository) -> None:
    repo.stage_weights({"w": np.zeros(4, np.float32)})
    old = repo.commit("old")
    repo.stage_weights({"w": np.ones(4, np.float32)})
    repo.commit("new")
    assert_bit_exact(repo.get_weight("w", commit_ref=old.commit_hash).data, np.zeros(4, np.float32))
    assert_bit_exact(repo.get_weight("w").data, np.ones(4, np.float32))
    assert_bit_exact(repo.get_weight("w", "main~1").data, np.zeros(4, np.float32))


def test_identical_tensors_are_stored_once_across_commits_and_branches(repo: Repository) -> None:
    big = np.random.default_rng(0).standard_normal(50_000).astype(np.float32)
    repo.stage_weights({"a": big, "b": big.copy()})
    repo.commit("one")
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"c": big.copy(), "small": np.ones(2, np.float32)})
    repo.commit("two")
    assert len(list(repo.store.object_ids())) == 2


def test_lazy_weights_read_on_access(repo: Repository) -> None:
    weights = {f"layer{i}": np.full((3, 3), i, np.float64) for i in range(5)}
    repo.stage_weights(weights)
    repo.commit("five")
    lazy = repo.get_all_weights(lazy=True)
    assert isinstance(lazy, LazyWeights)
    assert len(lazy) == 5 and list(lazy) == sorted(weights) and "layer3" in lazy
    assert lazy.metadata("layer2").shape == (3, 3)
    assert_bit_exact(lazy["layer4"].data, weights["layer4"])
    with pytest.raises(WeightNotFoundError, match="did you mean 'layer1'"):
        lazy["layer11"]


def test_unknown_weight_names_suggest_close_matches(repo: Repository) -> None:
    repo.stage_weights({"encoder.layer1.weight": np.ones(2, np.float32)})
    repo.commit("one")
    expected = r"did you mean 'encoder\.layer1\.weight'"
    with pytest.raises(WeightNotFoundError, match=expected) as info:
        repo.get_weight("encoder.layer1.weights")
    assert isinstance(info.value, KeyError)


def test_unknown_refs_are_clear_errors_on_reads(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.commit("one")
    with pytest.raises(RefNotFoundError):
        repo.get_all_weights("no-such-branch")
    with pytest.raises(RefNotFoundError):
        repo.get_weight("w", commit_ref="feedbeef")


def test_read_weights_are_immutable_snapshots(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.commit("one")
    w = repo.get_weight("w")
    with pytest.raises(ValueError):
        w.data[0] = 5.0
    assert w.content_hash == repo.get_commit().weight_hashes["w"]
