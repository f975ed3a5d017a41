"""Opening repositories, staging, status and committing."""

from __future__ import annotations

import json
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.errors import (
    InvalidTypeError,
    InvalidValueError,
    InvalidWeightError,
    NotARepositoryError,
    NothingToCommitError,
    WeightNotFoundError,
    WeightTypeError,
)
from coral.version_control import Repository
from tests.helpers import assert_bit_exact, reopen, repository_state

pytestmark = pytest.mark.disk_and_memory


def test_init_creates_the_documented_layout(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "proj", init=True)
    coral = tmp_path / "proj" / ".coral"
    assert repo.coral_dir == coral and repo.path == (tmp_path / "proj").resolve()
    for part in [
        "config.json",
        "HEAD",
        "remotes.json",
        "refs/heads",
        "objects/commits",
        "objects/packs",
        "staging",
        "versions",
        "logs",
        "tmp",
    ]:
        assert (coral / part).exists(), part
    config = json.loads((coral / "config.json").read_text())
    assert set(config) >= {"user", "core"}
    assert (coral / "HEAD").read_text() == "ref: refs/heads/main"


@pytest.mark.disk_only
def test_init_on_an_existing_repository_keeps_its_history(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    commit = repo.commit("first")
    again = Repository(repo.path, init=True)
    assert again.log()[0].commit_hash == commit.commit_hash


def test_opening_a_directory_without_a_repository_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match=str(tmp_path)) as info:
        Repository(tmp_path)
    assert isinstance(info.value, FileNotFoundError)
    assert "init=True" in str(info.value)


def test_opening_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="does not exist"):
        Repository(tmp_path / "nope")


@pytest.mark.disk_only
def test_opening_from_a_subdirectory_finds_the_enclosing_repository(repo: Repository) -> None:
    sub = repo.path / "notebooks" / "deep"
    sub.mkdir(parents=True)
    assert Repository(sub).coral_dir == repo.coral_dir


def test_staging_returns_hashes_and_status_lists_them(repo: Repository) -> None:
    hashes = repo.stage_weights({"a": np.ones(3, np.float32), "b": np.zeros(2, np.int64)})
    assert set(hashes) == {"a", "b"} and all(len(h) == 32 for h in hashes.values())
    status = repo.status()
    assert status.added == ["a", "b"] and status.branch == "main" and status.head is None
    assert "no commits yet" in str(status)


def test_staging_accumulates_across_calls(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(3, np.float32)})
    repo.stage_weights({"b": np.ones(3, np.float32)})
    commit = repo.commit("both")
    assert set(commit.weight_hashes) == {"a", "b"}


def test_a_partial_stage_carries_over_unstaged_weights_from_the_parent(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(3, np.float32), "b": np.zeros(3, np.float32)})
    first = repo.commit("first")
    repo.stage_weights({"b": np.full(3, 2.0, np.float32)}, partial=True)
    assert repo.status().partial and repo.status().removed == []
    second = repo.commit("second")
    assert second.weight_hashes["a"] == first.weight_hashes["a"]
    assert second.weight_hashes["b"] != first.weight_hashes["b"]
    assert second.parent_hashes == [first.commit_hash]


def test_a_commit_is_exactly_the_snapshot_staged_since_the_last_one(repo: Repository) -> None:
    three = {f"{i}.weight": np.full(2, i, np.float32) for i in range(3)}
    repo.stage_weights(three)
    first = repo.commit("three layers")
    repo.stage_weights({"0.weight": np.zeros(2, np.float32)})  # the model lost two layers
    second = repo.commit("one layer")
    assert sorted(second.weight_hashes) == ["0.weight"]
    assert repo.diff(first.commit_hash)["removed"] == ["1.weight", "2.weight"]
    assert not repo.status().partial  # the partial mark never outlives its commit


def test_status_says_what_the_commit_will_remove(repo: Repository) -> None:
    repo.stage_weights({n: np.ones(2, np.float32) for n in ("0.weight", "2.bias", "2.weight")})
    repo.commit("base")
    repo.stage_weights({"0.weight": np.ones(2, np.float32)})
    status = repo.status()
    assert status.removed == ["2.bias", "2.weight"] and status.has_changes
    assert "removes 2 weights: 2.bias, 2.weight" in str(status)


def test_a_commit_that_restages_only_the_weights_drops_stale_optimizer_state(
    repo: Repository,
) -> None:
    torch = pytest.importorskip("torch")
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    repo.stage_weights({k: v.detach() for k, v in model.state_dict().items()})
    repo.stage_optimizer_state(opt)
    with_state = repo.commit("weights and moments")
    assert any(n.startswith("__optimizer__/") for n in with_state.weight_hashes)
    with torch.no_grad():
        model.weight.add_(1.0)
    repo.stage_weights({k: v.detach() for k, v in model.state_dict().items()})
    weights_only = repo.commit("weights only")
    assert sorted(weights_only.weight_hashes) == ["bias", "weight"]


def test_model_files_carry_forward_unless_restaged_or_removed(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.stage_files({"config.json": b'{"a": 1}', "vocab.txt": b"x"})
    repo.commit("model with files")
    repo.stage_weights({"w": np.zeros(2, np.float32)})
    repo.stage_files({"config.json": b'{"a": 2}'})
    second = repo.commit("new weights and config")
    assert repo.get_files(second.commit_hash) == {"config.json": b'{"a": 2}', "vocab.txt": b"x"}
    repo.stage_removal("__file__/vocab.txt")
    third = repo.commit("drop the vocabulary")
    assert repo.get_files(third.commit_hash) == {"config.json": b'{"a": 2}'}
    assert sorted(repo.get_all_weights(third.commit_hash)) == ["w"]


def test_staging_only_files_or_removals_keeps_heads_weights(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    repo.commit("two")
    repo.stage_files({"README.md": b"hello"})
    assert sorted(repo.commit("a file").weight_hashes) == ["__file__/README.md", "a", "b"]
    repo.stage_removal("b")
    assert repo.status().removed == ["b"]
    assert sorted(repo.commit("git rm b").weight_hashes) == ["__file__/README.md", "a"]


def test_a_removal_after_a_full_stage_leaves_the_name_out_of_the_snapshot(
    repo: Repository,
) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    repo.commit("two")
    repo.stage_weights({"a": np.zeros(2, np.float32), "b": np.zeros(2, np.float32)})
    repo.stage_removal("b")
    assert sorted(repo.commit("only a").weight_hashes) == ["a"]


def test_an_emptied_staging_area_forgets_the_partial_mark(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    repo.commit("two")
    repo.stage_weights({"a": np.zeros(2, np.float32)}, partial=True)
    repo.unstage("a")
    repo.stage_weights({"a": np.full(2, 3, np.float32)})
    assert repo.status().removed == ["b"]


def test_status_separates_added_modified_unchanged_and_removed(repo: Repository) -> None:
    repo.stage_weights(
        {
            "keep": np.ones(2, np.float32),
            "change": np.ones(2, np.float32),
            "drop": np.ones(2, np.float32),
        }
    )
    repo.commit("base")
    repo.stage_weights(
        {
            "keep": np.ones(2, np.float32),
            "change": np.zeros(2, np.float32),
            "new": np.ones(1, np.float32),
        }
    )
    repo.stage_removal("drop")
    status = repo.status()
    assert (status.added, status.modified, status.unchanged, status.removed) == (
        ["new"],
        ["change"],
        ["keep"],
        ["drop"],
    )
    assert status.has_changes and not status.clean


def test_remove_missing_makes_the_commit_exactly_the_given_weights(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    repo.commit("two")
    repo.stage_weights({"a": np.zeros(2, np.float32)}, remove_missing=True)
    assert set(repo.commit("only a").weight_hashes) == {"a"}


def test_unstage_and_reset_drop_staged_changes(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32), "b": np.ones(2, np.float32)})
    repo.unstage("a")
    assert repo.status().added == ["b"]
    repo.reset()
    assert repo.status().clean


def test_committing_with_nothing_staged_is_a_clear_error(repo: Repository) -> None:
    with pytest.raises(NothingToCommitError, match="nothing staged"):
        repo.commit("empty")


def test_committing_an_identical_snapshot_needs_allow_empty(repo: Repository) -> None:
    weights = {"a": np.ones(2, np.float32)}
    repo.stage_weights(weights)
    first = repo.commit("first")
    repo.stage_weights(weights)
    with pytest.raises(NothingToCommitError, match="identical to HEAD"):
        repo.commit("again")
    again = repo.commit("again", allow_empty=True)
    assert again.weight_hashes == first.weight_hashes and again.parent_hashes == [first.commit_hash]


def test_a_commit_clears_only_what_it_committed(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32)})
    repo.commit("a")
    assert repo.status().clean


def test_commit_uses_the_configured_identity_and_explicit_overrides(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CORAL_AUTHOR_NAME")
    monkeypatch.delenv("CORAL_AUTHOR_EMAIL")
    repo.config.set("user.name", "Jane Doe")
    repo.config.set("user.email", "jane@example.com")
    repo.stage_weights({"a": np.ones(2, np.float32)})
    commit = repo.commit("by config", tags=["baseline"])
    assert (commit.metadata.author, commit.metadata.email) == ("Jane Doe", "jane@example.com")
    assert commit.metadata.tags == ["baseline"]
    repo.stage_weights({"a": np.zeros(2, np.float32)})
    other = repo.commit("by hand", author="Bob", email="bob@example.com")
    assert (other.metadata.author, other.metadata.email) == ("Bob", "bob@example.com")


def test_commit_hash_is_sha256_of_the_content_and_is_verified_on_read(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32)})
    commit = repo.commit("first")
    assert commit.commit_hash == commit.compute_hash() and len(commit.commit_hash) == 32
    assert repo.get_commit(commit.commit_hash[:8]).commit_hash == commit.commit_hash


def test_weight_tensor_metadata_is_kept_with_the_commit(repo: Repository) -> None:
    meta = WeightMetadata(
        "enc.w", (2, 2), np.float32, layer_type="Linear", model_name="enc", extra={"init": "xavier"}
    )
    repo.stage_weights({"enc.w": WeightTensor(np.eye(2, dtype=np.float32), meta)})
    repo.commit("meta")
    loaded = reopen(repo).get_weight("enc.w")
    assert loaded.metadata == meta


def test_staging_under_another_name_renames_the_weight(repo: Repository) -> None:
    w = WeightTensor(np.ones(2, np.float32), WeightMetadata("old", (2,), np.float32))
    repo.stage_weights({"new": w})
    repo.commit("renamed")
    assert repo.get_weight("new").name == "new"


@pytest.mark.parametrize(
    ("weights", "error", "fragment"),
    [
        ({"a": [1, 2, 3]}, WeightTypeError, "'a'"),
        ({"a": "text"}, WeightTypeError, "'a'"),
        ({"": np.ones(2)}, WeightTypeError, "non-empty"),
        ({3: np.ones(2)}, WeightTypeError, "non-empty strings"),
        ({"a": np.array(["x"])}, InvalidWeightError, "'a'"),
        ({"ok": np.ones(2), "bad": np.zeros(2, dtype=object)}, InvalidWeightError, "'bad'"),
    ],
)
def test_bad_weights_are_refused_before_anything_is_written(
    repo: Repository, weights: dict, error: type, fragment: str
) -> None:
    with pytest.raises(error, match=fragment):
        repo.stage_weights(weights)
    assert repo.status().clean
    assert list(repo.store.object_ids()) == []


def test_stage_weights_requires_a_mapping(repo: Repository) -> None:
    with pytest.raises(WeightTypeError, match="dict"):
        repo.stage_weights([np.ones(2)])  # type: ignore[arg-type]


def test_staging_removal_of_an_unknown_weight_is_refused(repo: Repository) -> None:
    with pytest.raises(WeightNotFoundError):
        repo.stage_removal("ghost")


def test_commit_message_must_be_text(repo: Repository) -> None:
    repo.stage_weights({"a": np.ones(2, np.float32)})
    with pytest.raises(InvalidValueError):
        repo.commit(None)  # type: ignore[arg-type]


def test_staged_arrays_are_private_to_the_repository(repo: Repository) -> None:
    live = np.zeros(5, np.float32)
    repo.stage_weights({"w": live})
    live += 1  # the optimizer keeps training after staging
    repo.commit("snapshot")
    assert_bit_exact(repo.get_weight("w").data, np.zeros(5, np.float32))


def test_many_dtypes_commit_and_read_back_bit_exact(repo: Repository) -> None:
    rng = np.random.default_rng(0)
    weights = {
        "f32": (rng.standard_normal((33, 17)) * 0.02).astype(np.float32),
        "bf16": rng.standard_normal(100).astype(ml_dtypes.bfloat16),
        "f16": rng.standard_normal(100).astype(np.float16),
        "f64": np.array([np.nan, -0.0, 5e-324, np.inf]),
        "i8": rng.integers(-128, 127, 50).astype(np.int8),
        "u8": rng.integers(0, 255, 50).astype(np.uint8),
        "i64": np.array(12345678901234, np.int64),
        "mask": rng.random((4, 4)) > 0.5,
        "empty": np.zeros((0, 3), np.float32),
        "fortran": np.asarray(rng.standard_normal((5, 7)).astype(np.float32), order="F"),
        "big_endian": np.arange(6, dtype=">f4"),
        "strided": np.arange(20, dtype=np.int32)[::3],
    }
    repo.stage_weights(weights)
    commit = repo.commit("all dtypes")
    back = reopen(repo).get_all_weights(commit.commit_hash[:7])
    assert set(back) == set(weights)
    for name, arr in weights.items():
        expected = arr.astype(arr.dtype.newbyteorder("=")) if arr.dtype.byteorder == ">" else arr
        assert_bit_exact(back[name].data, np.asarray(expected, order="C"))


@pytest.mark.parametrize("compression", ["zstd", "none"])
def test_an_array_mutated_while_it_is_staged_is_stored_consistently(
    repo: Repository, compression: str
) -> None:
    """A training thread may update a live buffer while another thread stages it: whatever
    state is captured, the object ID must name exactly the stored bytes."""
    import threading

    repo.config.set("core.compression", compression)
    repo = reopen(repo)
    live = (np.random.default_rng(0).standard_normal(4_000_000) * 0.02).astype(np.float32)
    stop = threading.Event()

    def train() -> None:
        step = np.float32(1e-3)
        while not stop.is_set():
            live[::97] += step  # in place, like an optimizer step

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        staged = [repo.stage_weights({f"w{i}": live})[f"w{i}"] for i in range(4)]
    finally:
        stop.set()
        trainer.join()
    repo.commit("racing the optimizer")
    report = repo.fsck()
    assert report.ok, str(report)
    for i, oid in enumerate(staged):
        w = repo.get_weight(f"w{i}")
        assert w.content_hash == oid  # read-back verification passed and the ID matches


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda r: r.get_weight(123), WeightTypeError),
        (lambda r: r.get_weight(None), WeightTypeError),
        (lambda r: r.stage_removal(5), WeightTypeError),
        (lambda r: r.unstage(5), WeightTypeError),
        (lambda r: r.log(max_commits="3"), InvalidValueError),
        (lambda r: r.commit("m", author=5), InvalidValueError),
        (lambda r: r.commit("m", tags=5), InvalidTypeError),
        (lambda r: r.commit("m", tags=[5]), InvalidValueError),
        (lambda r: r.tag_version("big", metrics={"x": 10**400}), InvalidValueError),
        (lambda r: WeightMetadata("w", "12", np.float32), WeightTypeError),
        (
            lambda r: WeightMetadata("w", (2,), np.float32, extra={"lr": np.float32(0.1)}),
            WeightTypeError,
        ),
        (
            lambda r: WeightMetadata("w", (2,), np.float32, extra={"lr": float("nan")}),
            WeightTypeError,
        ),
    ],
)
def test_bad_arguments_raise_coral_errors_not_raw_tracebacks(
    repo: Repository, call: object, error: type
) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.commit("base")
    before = repository_state(repo)
    with pytest.raises(error):
        call(repo)  # type: ignore[operator]
    assert repository_state(repo) == before


def test_a_file_is_not_a_repository_path(tmp_path: Path) -> None:
    target = tmp_path / "model.pt"
    target.write_bytes(b"x")
    with pytest.raises(InvalidValueError, match="is a file"):
        Repository(target, init=True)


def test_a_single_string_tag_is_one_label(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    assert repo.commit("m", tags="baseline").metadata.tags == ["baseline"]


def test_checkout_head_stays_on_the_branch(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.commit("m")
    repo.checkout("HEAD")
    assert repo.current_branch == "main"


def test_staged_entries_equal_to_head_do_not_block_checkout_and_are_dropped(
    repo: Repository,
) -> None:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.commit("m")
    repo.create_branch("other")
    repo.checkout("other")
    repo.stage_weights({"w": np.zeros(2, np.float32)})
    repo.commit("other")
    repo.checkout("main")
    repo.stage_weights({"w": np.ones(2, np.float32)})  # what a killed commit can leave behind
    repo.checkout("other")
    assert repo.status().clean
