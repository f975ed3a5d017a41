"""The seed chapter's code examples (sections 1-5 and 7-9), run as written.

Each test runs one example of "Chapter 5: Version Control System" with the chapter's import
paths, method names, argument names and return shapes, and asserts what the chapter promises
about the result. Placeholder hashes of the chapter ("abc123", "a1b2c3d4", "main_tip", ...)
are replaced by (abbreviated) hashes of commits the test made. Sections 6 (merging) and 10
(remotes) are not covered here.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.errors import CoralError
from coral.version_control import Commit, CommitMetadata, Repository, Version
from tests.helpers import assert_bit_exact

pytestmark = pytest.mark.disk_and_memory

HEX32 = re.compile(r"^[0-9a-f]{32}$")


# --- builders -------------------------------------------------------------------------------


def _tensor(name: str, data: np.ndarray, layer_type: str | None = None) -> WeightTensor:
    return WeightTensor(
        data=data,
        metadata=WeightMetadata(
            name=name, shape=data.shape, dtype=data.dtype, layer_type=layer_type
        ),
    )


def _encoder_weights(rng: np.random.Generator) -> dict[str, WeightTensor]:
    """Section 4's staging example (seeded instead of np.random.randn)."""
    return {
        "encoder.weight": WeightTensor(
            data=rng.standard_normal((128, 64)).astype(np.float32),
            metadata=WeightMetadata(
                name="encoder.weight",
                shape=(128, 64),
                dtype=np.float32,
                layer_type="Linear",
            ),
        ),
        "encoder.bias": WeightTensor(
            data=rng.standard_normal(128).astype(np.float32),
            metadata=WeightMetadata(name="encoder.bias", shape=(128,), dtype=np.float32),
        ),
    }


def _commit_one(
    repo: Repository, rng: np.random.Generator, message: str, name: str = "layer1.weight"
) -> Commit:
    """Stage a fresh random value of ``name`` and commit it."""
    repo.stage_weights({name: _tensor(name, rng.standard_normal((4, 3)).astype(np.float32))})
    return repo.commit(message)


def _assert_same_weights(actual: dict[str, WeightTensor], expected: dict[str, WeightTensor]):
    assert sorted(actual) == sorted(expected)
    for name, weight in expected.items():
        assert_bit_exact(actual[name].data, weight.data)


# --- 1. Git-like version control concept ------------------------------------------------------


def test_git_workflow_builds_the_chapter_dag_with_branch_and_tag(repo, rng):
    # A---B---C (main), D---E (experiment-lr) branching at B
    a = _commit_one(repo, rng, "A")
    b = _commit_one(repo, rng, "B")
    repo.create_branch("experiment-lr")
    c = _commit_one(repo, rng, "C")
    repo.checkout("experiment-lr")
    d = _commit_one(repo, rng, "D")
    e = _commit_one(repo, rng, "E")
    version = repo.tag_version("v1.0")

    assert [x.commit_hash for x in repo.log(branch="main")] == [
        c.commit_hash,
        b.commit_hash,
        a.commit_hash,
    ]
    assert [x.commit_hash for x in repo.log(branch="experiment-lr")] == [
        e.commit_hash,
        d.commit_hash,
        b.commit_hash,
        a.commit_hash,
    ]
    assert repo.version_graph.get_common_ancestor(c.commit_hash, e.commit_hash) == b.commit_hash
    assert version.name == "v1.0"
    assert version.commit_hash == e.commit_hash


@pytest.mark.disk_only  # the seed's files under .coral
def test_coral_directory_holds_config_head_commits_refs_staging_versions_and_remotes(repo, rng):
    repo.stage_weights(_encoder_weights(rng))
    assert (repo.coral_dir / "staging" / "staged.json").is_file()
    commit = repo.commit("first")
    repo.create_branch("experiment-lr")
    version = repo.tag_version("v1.0")

    coral = repo.coral_dir
    assert coral == repo.path / ".coral"
    assert (coral / "config.json").is_file()
    assert (coral / "HEAD").is_file()
    assert (coral / "remotes.json").is_file()
    assert (coral / "objects" / "commits" / f"{commit.commit_hash}.json").is_file()
    for branch in ("main", "experiment-lr"):
        ref = json.loads((coral / "refs" / "heads" / branch).read_text())
        assert ref["name"] == branch
        assert ref["commit_hash"] == commit.commit_hash
    assert (coral / "versions" / f"{version.version_id}.json").is_file()


# --- 2. Repository: the central API -----------------------------------------------------------


def test_repository_init_then_open_with_relative_path(tmp_path, monkeypatch, rng):
    monkeypatch.chdir(tmp_path)

    # Initialize new repository
    repo = Repository(Path("./my_project"), init=True)
    assert (tmp_path / "my_project" / ".coral").is_dir()
    with open(repo.coral_dir / "HEAD") as f:
        assert f.read() == "ref: refs/heads/main"
    weights = _encoder_weights(rng)
    repo.stage_weights(weights)
    commit = repo.commit("initial")

    # Open existing repository
    repo = Repository(Path("./my_project"))
    assert repo.coral_dir.resolve() == (tmp_path / "my_project" / ".coral").resolve()
    assert repo.log()[0].commit_hash == commit.commit_hash
    _assert_same_weights(repo.get_all_weights(), weights)


@pytest.mark.disk_only  # the seed's files under .coral
def test_config_json_has_user_and_core_settings(repo):
    with open(repo.coral_dir / "config.json") as f:
        config = json.load(f)

    assert isinstance(config["user"], dict)
    core = config["core"]
    assert {"compression", "similarity_threshold", "delta_encoding", "delta_type"} <= set(core)
    assert 0.0 <= core["similarity_threshold"] <= 1.0
    assert isinstance(core["delta_encoding"], bool)
    assert core["delta_type"] in ("float32_raw", "compressed", "int8_quantized", "sparse")


@pytest.mark.disk_only  # the seed's files under .coral
def test_config_user_name_and_email_are_the_default_commit_author(repo, rng, monkeypatch):
    monkeypatch.delenv("CORAL_AUTHOR_NAME")
    monkeypatch.delenv("CORAL_AUTHOR_EMAIL")
    config_file = repo.coral_dir / "config.json"
    config = json.loads(config_file.read_text())
    config["user"] = {"name": "Jane Doe", "email": "jane@example.com"}
    config_file.write_text(json.dumps(config))

    commit = _commit_one(repo, rng, "uses config identity")

    assert commit.metadata.author == "Jane Doe"
    assert commit.metadata.email == "jane@example.com"


def test_key_methods_take_arguments_in_the_documented_positional_order(repo, rng):
    weights_dict = _encoder_weights(rng)
    # Staging and committing
    staged = repo.stage_weights(weights_dict)
    first = repo.commit("message", "Jane Doe", "jane@example.com", ["baseline"])
    assert first.weight_hashes == staged
    assert first.metadata.author == "Jane Doe"
    assert first.metadata.email == "jane@example.com"
    assert first.metadata.tags == ["baseline"]

    changed = {"encoder.bias": _tensor("encoder.bias", np.zeros(128, np.float32))}
    repo.stage_weights(changed)
    second = repo.commit("second")

    # Branch operations
    branch = repo.create_branch("old", first.commit_hash)
    assert branch.commit_hash == first.commit_hash
    repo.checkout("old")
    assert repo.branch_manager.get_current_branch() == "old"
    repo.checkout("main")

    # Weight operations
    assert_bit_exact(
        repo.get_weight("encoder.bias", first.commit_hash).data,
        weights_dict["encoder.bias"].data,
    )
    _assert_same_weights(repo.get_all_weights(first.commit_hash), weights_dict)

    # History and inspection
    assert [c.commit_hash for c in repo.log(1, "main")] == [second.commit_hash]
    assert repo.diff(first.commit_hash, second.commit_hash)["modified"] == {
        "encoder.bias": {
            "from_hash": first.weight_hashes["encoder.bias"],
            "to_hash": second.weight_hashes["encoder.bias"],
        }
    }

    # Versioning
    version = repo.tag_version("v1.0", "first release", {"accuracy": 0.9})
    assert (version.name, version.description, version.metrics) == (
        "v1.0",
        "first release",
        {"accuracy": 0.9},
    )
    assert version.commit_hash == second.commit_hash


# --- 3. Commits: immutable snapshots ----------------------------------------------------------


def test_hand_built_root_regular_and_merge_commits_report_merge_status():
    commit = Commit(
        commit_hash="a1b2c3d4",
        parent_hashes=[],  # No parents
        weight_hashes={"layer1.weight": "h1", "layer1.bias": "h2"},
        metadata=CommitMetadata(author="Jane Doe", email="jane@example.com", message="root"),
    )
    assert not commit.is_merge_commit
    assert commit.delta_weights == {}
    assert isinstance(commit.metadata.timestamp, datetime)  # auto-generated
    assert commit.metadata.tags == []

    commit = Commit(
        commit_hash="e5f6g7h8",
        parent_hashes=["a1b2c3d4"],  # One parent
        weight_hashes={"layer1.weight": "h3", "layer1.bias": "h4"},
        metadata=CommitMetadata(author="Jane Doe", email="jane@example.com", message="next"),
    )
    assert not commit.is_merge_commit
    assert commit.parent_hashes == ["a1b2c3d4"]

    merge_commit = Commit(
        commit_hash="i9j0k1l2",
        parent_hashes=["e5f6g7h8", "m3n4o5p6"],  # Two parents
        weight_hashes={"layer1.weight": "h5", "layer1.bias": "h6"},
        metadata=CommitMetadata(
            author="Jane Doe", email="jane@example.com", message="merge", tags=["merge"]
        ),
    )

    assert merge_commit.is_merge_commit  # True
    assert merge_commit.metadata.tags == ["merge"]


@pytest.mark.disk_only  # the seed's files under .coral
def test_commit_hash_is_a_128_bit_sha256_hex_digest_and_commit_files_are_tamper_evident(repo, rng):
    commit = _commit_one(repo, rng, "original message")
    parent_hashes = commit.parent_hashes
    weight_hashes = commit.weight_hashes
    metadata = commit.metadata
    delta_weights = commit.delta_weights

    commit_content = {
        "parent_hashes": parent_hashes,
        "weight_hashes": weight_hashes,
        "metadata": metadata.to_dict(),
        "delta_weights": delta_weights,
    }
    commit_hash = hashlib.sha256(json.dumps(commit_content, sort_keys=True).encode()).hexdigest()[
        :32
    ]  # 128-bit hash

    assert HEX32.match(commit_hash)
    assert HEX32.match(commit.commit_hash)

    # Tamper with the stored commit: a fresh repository object must not accept it.
    commit_file = repo.coral_dir / "objects" / "commits" / f"{commit.commit_hash}.json"
    stored = json.loads(commit_file.read_text())
    stored["metadata"]["message"] = "rewritten history"
    commit_file.write_text(json.dumps(stored))
    with pytest.raises(CoralError):
        Repository(repo.path).version_graph.get_commit(commit.commit_hash)


def test_reading_a_commit_by_abbreviated_hash_shows_author_message_and_weight_count(
    repo, rng, capsys
):
    repo.stage_weights(_encoder_weights(rng))
    made = repo.commit("Add encoder", author="Jane Doe", email="jane@example.com")

    # Get commit from version graph
    commit = repo.version_graph.get_commit(made.commit_hash[:8])

    print(f"Author: {commit.metadata.author}")
    print(f"Message: {commit.metadata.message}")
    print(f"Weights: {len(commit.weight_hashes)}")

    assert commit.commit_hash == made.commit_hash
    assert capsys.readouterr().out == "Author: Jane Doe\nMessage: Add encoder\nWeights: 2\n"


def test_traversing_parent_ancestors_and_linear_branch_history(repo, rng):
    a = _commit_one(repo, rng, "A")
    b = _commit_one(repo, rng, "B")
    c = _commit_one(repo, rng, "C")
    commit = repo.version_graph.get_commit(c.commit_hash[:8])

    # Get parent commit
    parent_hash = commit.parent_hashes[0]
    parent = repo.version_graph.get_commit(parent_hash)
    assert parent.commit_hash == b.commit_hash

    # Get all ancestors
    ancestors = repo.version_graph.get_commit_ancestors(c.commit_hash[:8])
    assert isinstance(ancestors, list)
    assert sorted(ancestors) == sorted([a.commit_hash, b.commit_hash])

    # Get branch history (linear)
    history = repo.version_graph.get_branch_history(c.commit_hash[:8], max_depth=10)
    assert [h.commit_hash for h in history] == [c.commit_hash, b.commit_hash, a.commit_hash]
    short = repo.version_graph.get_branch_history(c.commit_hash[:8], max_depth=2)
    assert [h.commit_hash for h in short] == [c.commit_hash, b.commit_hash]


# --- 4. Staging and committing ----------------------------------------------------------------


@pytest.mark.disk_only  # the seed's files under .coral
def test_stage_weights_returns_a_hash_per_name_and_writes_staged_json(repo, rng):
    weights = _encoder_weights(rng)

    # Stage weights
    staged_hashes = repo.stage_weights(weights)

    assert isinstance(staged_hashes, dict)
    assert set(staged_hashes) == {"encoder.weight", "encoder.bias"}
    assert all(isinstance(h, str) and h for h in staged_hashes.values())
    assert staged_hashes["encoder.weight"] != staged_hashes["encoder.bias"]
    assert (repo.coral_dir / "staging" / "staged.json").is_file()


def test_same_content_gets_the_same_weight_hash(repo):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    staged = repo.stage_weights(
        {"a.weight": _tensor("a.weight", data), "b.weight": _tensor("b.weight", data.copy())}
    )
    other = repo.stage_weights({"c.weight": _tensor("c.weight", data + 1)})
    assert staged["a.weight"] == staged["b.weight"]
    assert other["c.weight"] != staged["a.weight"]


@pytest.mark.disk_only  # the seed's files under .coral
def test_commit_records_staged_hashes_author_tags_and_parent(repo, rng, capsys):
    weights = _encoder_weights(rng)
    staged_hashes = repo.stage_weights(weights)
    commit = repo.commit(
        message="Add encoder layer with 128 hidden units",
        author="Jane Doe",  # Optional, uses config default
        email="jane@example.com",  # Optional, uses config default
        tags=["baseline", "encoder-v1"],  # Optional
    )

    print(f"Created commit: {commit.commit_hash}")
    print(f"Parent: {commit.parent_hashes}")

    assert capsys.readouterr().out == f"Created commit: {commit.commit_hash}\nParent: []\n"
    assert commit.parent_hashes == []
    assert commit.weight_hashes == staged_hashes
    assert commit.metadata.author == "Jane Doe"
    assert commit.metadata.email == "jane@example.com"
    assert commit.metadata.message == "Add encoder layer with 128 hidden units"
    assert commit.metadata.tags == ["baseline", "encoder-v1"]
    assert repo.branch_manager.get_branch("main").commit_hash == commit.commit_hash
    assert (repo.coral_dir / "objects" / "commits" / f"{commit.commit_hash}.json").is_file()
    loaded = repo.get_all_weights()
    _assert_same_weights(loaded, weights)
    assert loaded["encoder.weight"].metadata.layer_type == "Linear"

    repo.stage_weights({"encoder.bias": _tensor("encoder.bias", np.ones(128, np.float32))})
    second = repo.commit(message="Reset bias to ones")
    assert second.parent_hashes == [commit.commit_hash]
    assert second.metadata.author == "Test User"  # the configured default identity
    assert second.metadata.tags == []


@pytest.mark.torch
def test_complete_example_trains_a_torch_mlp_and_commits_its_state_dict(
    tmp_path, monkeypatch, capsys
):
    torch = pytest.importorskip("torch")
    import torch.nn as nn

    from coral.integrations.pytorch import pytorch_to_coral

    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)

    # Initialize repository
    repo = Repository("./experiments", init=True)

    # Train model
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001)
    inputs, targets = torch.randn(16, 64), torch.randint(0, 10, (16,))
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), targets).backward()
        optimizer.step()

    # Convert PyTorch weights to Coral
    weights = pytorch_to_coral(model.state_dict())

    # Stage and commit
    repo.stage_weights(weights)
    commit = repo.commit(
        message="Initial baseline: 2-layer MLP, lr=0.001", tags=["baseline", "mlp"]
    )

    print(f"Committed {len(weights)} weights")
    print(f"Commit hash: {commit.commit_hash}")

    assert capsys.readouterr().out == (f"Committed 4 weights\nCommit hash: {commit.commit_hash}\n")
    assert (tmp_path / "experiments" / ".coral").is_dir()
    assert commit.metadata.tags == ["baseline", "mlp"]
    state = model.state_dict()
    assert set(commit.weight_hashes) == set(state)
    assert not torch.equal(state["0.weight"], before["0.weight"])  # training moved the weights
    loaded = Repository("./experiments").get_all_weights(commit_ref=commit.commit_hash)
    assert set(loaded) == set(state)
    for name, tensor in state.items():
        assert_bit_exact(loaded[name].data, tensor.numpy())


# --- 5. Branches ------------------------------------------------------------------------------


def test_create_branch_from_head_from_a_commit_and_from_another_branch(repo, rng):
    old = _commit_one(repo, rng, "old")
    tip = _commit_one(repo, rng, "tip")
    manager = repo.branch_manager

    # On main branch with commit "abc123"
    repo.create_branch("experiment-dropout")
    assert manager.get_branch("experiment-dropout").commit_hash == tip.commit_hash
    assert manager.get_current_branch() == "main"  # creating a branch does not switch to it

    # Create from specific commit
    repo.create_branch("hotfix", from_ref=old.commit_hash[:6])
    assert manager.get_branch("hotfix").commit_hash == old.commit_hash

    # Create from another branch
    repo.create_branch("experiment-lr", from_ref=old.commit_hash)
    repo.create_branch("feature-v2", from_ref="experiment-lr")
    assert manager.get_branch("feature-v2").commit_hash == old.commit_hash

    assert [b.name for b in manager.list_branches()] == sorted(
        ["main", "experiment-dropout", "hotfix", "experiment-lr", "feature-v2"]
    )


def test_checkout_switches_branch_and_later_commits_move_only_that_branch(repo, rng):
    base = _commit_one(repo, rng, "base", name="dropout.rate")
    repo.create_branch("experiment-dropout")

    # Switch to existing branch
    repo.checkout("experiment-dropout")
    assert repo.branch_manager.get_current_branch() == "experiment-dropout"

    # Subsequent commits affect this branch
    modified_weights = {"dropout.rate": _tensor("dropout.rate", np.array([0.5], np.float32))}
    repo.stage_weights(modified_weights)
    new = repo.commit("Increase dropout to 0.5")

    assert new.parent_hashes == [base.commit_hash]
    assert repo.branch_manager.get_branch("experiment-dropout").commit_hash == new.commit_hash
    assert repo.branch_manager.get_branch("main").commit_hash == base.commit_hash


@pytest.mark.disk_only  # the seed's files under .coral
@pytest.mark.parametrize("abbreviate", [False, True], ids=["full-hash", "abbreviated-hash"])
def test_checkout_of_a_commit_detaches_head_and_head_file_holds_the_hash(repo, rng, abbreviate):
    old = _commit_one(repo, rng, "old")
    _commit_one(repo, rng, "new")

    # Checkout historical commit
    repo.checkout(old.commit_hash[:6] if abbreviate else old.commit_hash)  # Detached HEAD state

    with open(repo.coral_dir / "HEAD") as f:
        assert f.read() == old.commit_hash
    assert repo.branch_manager.get_current_branch() is None
    assert_bit_exact(
        repo.get_weight("layer1.weight").data,
        repo.get_weight("layer1.weight", commit_ref=old.commit_hash).data,
    )


def test_list_branches_marks_the_current_branch_and_shows_short_hashes(repo, rng, capsys):
    main_tip = _commit_one(repo, rng, "main")
    repo.create_branch("experiment-lr")
    repo.checkout("experiment-lr")
    lr_tip = _commit_one(repo, rng, "lr")
    repo.checkout("main")

    # Get all branches
    branches = repo.branch_manager.list_branches()

    for branch in branches:
        current = "* " if branch.name == repo.branch_manager.get_current_branch() else "  "
        print(f"{current}{branch.name} -> {branch.commit_hash[:8]}")

    assert capsys.readouterr().out == (
        f"  experiment-lr -> {lr_tip.commit_hash[:8]}\n* main -> {main_tip.commit_hash[:8]}\n"
    )


def test_deleting_the_current_branch_raises_value_error_and_other_branches_can_be_deleted(
    repo, rng
):
    tip = _commit_one(repo, rng, "main")
    repo.create_branch("experiment-lr")

    # Cannot delete current branch
    with pytest.raises(ValueError, match="Cannot delete current branch"):
        repo.branch_manager.delete_branch("main")  # Fails if on main
    assert repo.branch_manager.get_branch("main").commit_hash == tip.commit_hash

    # Switch first, then delete
    repo.checkout("main")
    repo.branch_manager.delete_branch("experiment-lr")
    assert [b.name for b in repo.branch_manager.list_branches()] == ["main"]


@pytest.mark.disk_only  # the seed's files under .coral
def test_head_file_reads_as_branch_ref_when_attached_and_as_hash_when_detached(repo, rng, capsys):
    first = _commit_one(repo, rng, "first")
    _commit_one(repo, rng, "second")

    def check_head_state() -> str:
        with open(repo.coral_dir / "HEAD") as f:
            head_content = f.read()

        if head_content.startswith("ref:"):
            print(f"On branch: {head_content.split('/')[-1]}")
        else:
            print(f"Detached HEAD at: {head_content}")
        return head_content

    assert check_head_state() == "ref: refs/heads/main"
    assert capsys.readouterr().out == "On branch: main\n"

    repo.checkout(first.commit_hash)
    assert check_head_state() == first.commit_hash
    assert capsys.readouterr().out == f"Detached HEAD at: {first.commit_hash}\n"


def test_branch_created_from_main_exposes_parent_branch(repo, rng):
    _commit_one(repo, rng, "main")

    # Create feature branch from main
    repo.checkout("main")
    repo.create_branch("feature-attention")

    # Branch tracks parent
    branch = repo.branch_manager.get_branch("feature-attention")
    # The chapter prints None ("not currently tracked") but says branches remember their
    # origin: either is acceptable, anything else is wrong.
    assert branch.parent_branch in (None, "main")


# --- 7. Tags and versions ---------------------------------------------------------------------


def test_tag_version_tags_head_by_default_with_description_and_metrics(repo, rng):
    _commit_one(repo, rng, "older")
    head = _commit_one(repo, rng, "release candidate")

    version = repo.tag_version(
        name="v1.0.0",
        description="Production release - CNN classifier",
        metrics={
            "train_accuracy": 0.987,
            "val_accuracy": 0.952,
            "test_accuracy": 0.948,
            "loss": 0.124,
        },
        commit_ref=None,  # None = current HEAD
    )

    assert isinstance(version, Version)
    assert version.commit_hash == head.commit_hash
    assert version.name == "v1.0.0"
    assert version.description == "Production release - CNN classifier"
    assert version.metrics == {
        "train_accuracy": 0.987,
        "val_accuracy": 0.952,
        "test_accuracy": 0.948,
        "loss": 0.124,
    }
    assert isinstance(version.version_id, str) and version.version_id


@pytest.mark.disk_only  # the seed's files under .coral
def test_version_file_round_trips_through_from_dict_and_yields_the_tagged_weights(repo, rng):
    weights = _encoder_weights(rng)
    repo.stage_weights(weights)
    tagged = repo.commit("tagged")
    version = repo.tag_version(name="v1.0.0", metrics={"loss": 0.124})
    repo.stage_weights({"encoder.bias": _tensor("encoder.bias", np.zeros(128, np.float32))})
    repo.commit("after the tag")

    # Load version from file
    version_file = repo.coral_dir / "versions" / f"{version.version_id}.json"
    with open(version_file) as f:
        version_data = json.load(f)

    restored_version = Version.from_dict(version_data)

    # Get weights for this version
    weights_for_version = repo.get_all_weights(commit_ref=restored_version.commit_hash)

    assert restored_version == version
    assert restored_version.commit_hash == tagged.commit_hash
    _assert_same_weights(weights_for_version, weights)


def test_tag_use_cases_each_record_a_version_of_head(repo, rng):
    head = _commit_one(repo, rng, "head")

    repo.tag_version(
        name="production-v2.1",
        description="Deployed to EU region on 2024-01-15",
        metrics={"latency_ms": 45, "accuracy": 0.96},
    )
    repo.tag_version(
        name="exp-42-best",
        description="Best result from hyperparameter sweep",
        metrics={"loss": 0.089, "f1_score": 0.923},
    )
    repo.tag_version(
        name="icml-2024-submission",
        description="Model weights for ICML 2024 paper",
        metrics={"test_acc": 0.954},
    )
    repo.tag_version(
        name="audit-2024-q1",
        description="Model audited and approved for medical use",
        metrics={"sensitivity": 0.98, "specificity": 0.95},
    )

    versions = repo.version_graph.versions
    by_name = {v.name: v for v in versions.values()}
    assert set(by_name) == {
        "production-v2.1",
        "exp-42-best",
        "icml-2024-submission",
        "audit-2024-q1",
    }
    assert all(versions[v.version_id] is v for v in versions.values())
    assert all(v.commit_hash == head.commit_hash for v in by_name.values())
    assert by_name["production-v2.1"].metrics == {"latency_ms": 45, "accuracy": 0.96}
    assert by_name["audit-2024-q1"].description == "Model audited and approved for medical use"


# --- 8. History and diffing -------------------------------------------------------------------


def test_log_returns_the_newest_commits_first_up_to_max_commits(repo, rng, capsys):
    made = [_commit_one(repo, rng, f"step {i}") for i in range(7)]

    # Get recent commits on current branch
    commits = repo.log(max_commits=5)

    for commit in commits:
        print(f"Commit: {commit.commit_hash}")
        print(f"Author: {commit.metadata.author}")
        print(f"Date: {commit.metadata.timestamp}")
        print(f"Message: {commit.metadata.message}")
        print()

    newest_five = made[::-1][:5]
    assert [c.commit_hash for c in commits] == [c.commit_hash for c in newest_five]
    assert all(isinstance(c.metadata.timestamp, datetime) for c in commits)
    expected = "".join(
        f"Commit: {c.commit_hash}\nAuthor: Test User\nDate: {c.metadata.timestamp}\n"
        f"Message: {c.metadata.message}\n\n"
        for c in newest_five
    )
    assert capsys.readouterr().out == expected


def test_log_of_a_named_branch_follows_that_branch(repo, rng):
    a = _commit_one(repo, rng, "A")
    repo.create_branch("experiment-lr")
    b = _commit_one(repo, rng, "B")
    repo.checkout("experiment-lr")
    c = _commit_one(repo, rng, "C")

    main_history = repo.log(max_commits=10, branch="main")
    feature_history = repo.log(max_commits=10, branch="experiment-lr")

    assert [x.commit_hash for x in main_history] == [b.commit_hash, a.commit_hash]
    assert [x.commit_hash for x in feature_history] == [c.commit_hash, a.commit_hash]


def _diff_fixture(repo, rng):
    """A commit with layer1/old_layer/layer2, then one that modifies layer1, removes old_layer
    and adds layer3.weight and layer3.bias, made with the chapter's own API: the second
    snapshot simply lacks old_layer."""
    base = {
        "layer1.weight": _tensor("layer1.weight", rng.standard_normal((4, 3)).astype(np.float32)),
        "old_layer.weight": _tensor("old_layer.weight", np.ones((2, 2), np.float32)),
        "layer2.bias": _tensor("layer2.bias", np.zeros(3, np.float32)),
    }
    repo.stage_weights(base)
    older = repo.commit("older")
    newer_weights = {
        "layer1.weight": _tensor("layer1.weight", rng.standard_normal((4, 3)).astype(np.float32)),
        "layer2.bias": base["layer2.bias"],
        "layer3.weight": _tensor("layer3.weight", np.full((3, 3), 2.0, np.float32)),
        "layer3.bias": _tensor("layer3.bias", np.full(3, 3.0, np.float32)),
    }
    repo.stage_weights(newer_weights)
    newer = repo.commit("newer")
    return older, newer


def _assert_chapter_diff(diff_result, older, newer):
    assert sorted(diff_result["added"]) == ["layer3.bias", "layer3.weight"]
    assert list(diff_result["removed"]) == ["old_layer.weight"]
    assert diff_result["modified"] == {
        "layer1.weight": {
            "from_hash": older.weight_hashes["layer1.weight"],
            "to_hash": newer.weight_hashes["layer1.weight"],
        }
    }
    summary = diff_result["summary"]
    assert (summary["total_added"], summary["total_removed"], summary["total_modified"]) == (
        2,
        1,
        1,
    )


def test_diff_reports_added_removed_modified_weights_and_a_summary(repo, rng, capsys):
    older, newer = _diff_fixture(repo, rng)

    diff_result = repo.diff(
        from_ref=older.commit_hash[:6],  # Older commit
        to_ref=newer.commit_hash[:8],  # Newer commit
    )

    print(f"Added weights: {diff_result['added']}")
    print(f"Removed weights: {diff_result['removed']}")
    print(f"Modified weights: {diff_result['modified']}")
    print(f"Summary: {diff_result['summary']}")

    _assert_chapter_diff(diff_result, older, newer)
    out = capsys.readouterr().out
    assert "Removed weights: ['old_layer.weight']" in out


def test_diff_compares_with_head_when_to_ref_is_omitted(repo, rng):
    older, newer = _diff_fixture(repo, rng)

    diff = repo.diff(from_ref=older.commit_hash[:6])  # to_ref defaults to current HEAD

    _assert_chapter_diff(diff, older, newer)


def test_common_ancestor_of_two_branch_tips_is_where_they_diverged(repo, rng, capsys):
    a = _commit_one(repo, rng, "A")
    b = _commit_one(repo, rng, "start of feature work")
    repo.create_branch("feature")
    main_tip = _commit_one(repo, rng, "C")
    repo.checkout("feature")
    _commit_one(repo, rng, "D")
    feature_tip = _commit_one(repo, rng, "E")

    ancestor_hash = repo.version_graph.get_common_ancestor(
        commit1_hash=main_tip.commit_hash[:8], commit2_hash=feature_tip.commit_hash[:8]
    )

    ancestor_commit = repo.version_graph.get_commit(ancestor_hash)
    print(f"Branches diverged at: {ancestor_commit.metadata.message}")

    assert ancestor_hash == b.commit_hash
    assert capsys.readouterr().out == "Branches diverged at: start of feature work\n"

    # Get commits unique to each branch
    main_commits = repo.log(branch="main")
    feature_commits = repo.log(branch="feature")

    common = repo.version_graph.get_common_ancestor(
        main_commits[0].commit_hash, feature_commits[0].commit_hash
    )

    print(f"Diverged {len([c for c in main_commits if c.commit_hash != common])} commits on main")
    print(
        f"Diverged {len([c for c in feature_commits if c.commit_hash != common])} "
        "commits on feature"
    )

    assert common == b.commit_hash
    assert [c.commit_hash for c in main_commits] == [
        main_tip.commit_hash,
        b.commit_hash,
        a.commit_hash,
    ]
    # The chapter's count excludes only the common commit itself: C, A on main; E, D, A on feature.
    assert capsys.readouterr().out == "Diverged 2 commits on main\nDiverged 3 commits on feature\n"


def test_version_graph_ancestors_descendants_path_and_weight_history(repo, rng):
    chain = [_commit_one(repo, rng, label, name="encoder.weight") for label in "ABCD"]
    a, b, c, d = (x.commit_hash for x in chain)

    graph = repo.version_graph

    # Get all ancestors (full history)
    all_ancestors = graph.get_commit_ancestors(d)
    assert sorted(all_ancestors) == sorted([a, b, c])

    # Get all descendants (future commits)
    descendants = graph.get_commit_descendants(a)
    assert sorted(descendants) == sorted([b, c, d])
    assert graph.get_commit_descendants(d) == []

    # Get path between commits
    path = graph.get_commit_path(from_hash=a, to_hash=d)
    assert path == [a, b, c, d]

    # Track weight evolution
    weight_history = graph.get_weight_history(weight_name="encoder.weight", from_commit=d)
    expected = [(x.commit_hash, x.weight_hashes["encoder.weight"]) for x in chain]
    assert isinstance(weight_history, list)
    assert all(isinstance(entry, tuple) and len(entry) == 2 for entry in weight_history)
    assert sorted(weight_history) == sorted(expected)
    assert len({wh for _, wh in weight_history}) == 4


# --- 9. Weight operations ---------------------------------------------------------------------


def _layered_weights(rng: np.random.Generator) -> dict[str, WeightTensor]:
    return {
        "encoder.layer1.weight": _tensor(
            "encoder.layer1.weight", rng.standard_normal((128, 64)).astype(np.float32)
        ),
        "encoder.layer1.bias": _tensor(
            "encoder.layer1.bias", rng.standard_normal(128).astype(np.float32)
        ),
        "decoder.layer1.weight": _tensor(
            "decoder.layer1.weight", rng.standard_normal((64, 128)).astype(np.float32)
        ),
    }


def test_get_weight_from_head_a_commit_and_a_tagged_version(repo, rng, capsys):
    first_weights = _layered_weights(rng)
    repo.stage_weights(first_weights)
    first = repo.commit("first")
    tagged = repo.tag_version("v1")
    second_weights = _layered_weights(rng)
    repo.stage_weights(second_weights)
    repo.commit("second")

    # Get from current HEAD
    weight = repo.get_weight("encoder.layer1.weight")
    assert_bit_exact(weight.data, second_weights["encoder.layer1.weight"].data)

    # Get from specific commit
    weight = repo.get_weight(name="encoder.layer1.weight", commit_ref=first.commit_hash[:6])
    assert_bit_exact(weight.data, first_weights["encoder.layer1.weight"].data)

    # Get from tagged version
    version = repo.version_graph.versions[tagged.version_id]
    weight = repo.get_weight(name="encoder.layer1.weight", commit_ref=version.commit_hash)
    assert_bit_exact(weight.data, first_weights["encoder.layer1.weight"].data)

    print(f"Shape: {weight.shape}")
    print(f"Dtype: {weight.dtype}")
    print(f"Data: {weight.data}")

    assert weight.shape == (128, 64)
    assert weight.dtype == np.float32
    out = capsys.readouterr().out
    assert out.startswith("Shape: (128, 64)\nDtype: float32\nData: [[")


def test_get_all_weights_from_head_and_from_a_commit(repo, rng, capsys):
    first_weights = _layered_weights(rng)
    repo.stage_weights(first_weights)
    first = repo.commit("first")
    second_weights = _layered_weights(rng)
    repo.stage_weights(second_weights)
    repo.commit("second")

    # Get all weights from current HEAD
    weights = repo.get_all_weights()
    _assert_same_weights(weights, second_weights)

    # Get from specific commit
    weights = repo.get_all_weights(commit_ref=first.commit_hash[:6])
    _assert_same_weights(weights, first_weights)

    # Inspect loaded weights
    for name, weight in weights.items():
        print(f"{name}: {weight.shape} ({weight.dtype})")

    assert sorted(capsys.readouterr().out.splitlines()) == sorted(
        [
            "encoder.layer1.weight: (128, 64) (float32)",
            "encoder.layer1.bias: (128,) (float32)",
            "decoder.layer1.weight: (64, 128) (float32)",
        ]
    )


def test_get_weight_after_setting_commit_delta_weights_returns_the_original_bytes(repo, rng):
    weights = _encoder_weights(rng)
    repo.stage_weights(weights)
    commit = repo.commit("encoder")

    # Weight stored as delta in commit
    commit.delta_weights = {"encoder.weight": "delta_hash_xyz"}

    # Loading reconstructs perfectly
    weight = repo.get_weight("encoder.weight", commit_ref=commit.commit_hash)

    # Original data restored exactly (lossless)
    assert weight.data.shape == (128, 64)  # Correct shape
    assert_bit_exact(weight.data, weights["encoder.weight"].data)


def test_loading_from_branch_tip_and_historical_commit_measures_weight_change(repo, rng, capsys):
    old_value = rng.standard_normal((4, 3)).astype(np.float32)
    repo.stage_weights({"layer1.weight": _tensor("layer1.weight", old_value)})
    old_commit = repo.commit("old")
    repo.create_branch("experiment-lr")
    repo.checkout("experiment-lr")
    new_value = (old_value * np.float32(0.5)).astype(np.float32)
    repo.stage_weights({"layer1.weight": _tensor("layer1.weight", new_value)})
    repo.commit("halve layer1")
    repo.checkout("main")

    # Load from branch tip
    repo.checkout("experiment-lr")
    weights = repo.get_all_weights()  # Uses current branch HEAD
    assert_bit_exact(weights["layer1.weight"].data, new_value)

    # Load from historical commit
    old_weights = repo.get_all_weights(commit_ref=old_commit.commit_hash[:8])
    assert_bit_exact(old_weights["layer1.weight"].data, old_value)

    # Compare weight evolution
    current_weight = repo.get_weight("layer1.weight")
    old_weight = repo.get_weight("layer1.weight", commit_ref=old_commit.commit_hash[:8])

    difference = np.abs(current_weight.data - old_weight.data).mean()
    print(f"Average weight change: {difference}")

    expected = np.abs(new_value - old_value).mean()
    assert difference == expected
    assert difference > 0
    assert capsys.readouterr().out == f"Average weight change: {expected}\n"


# --- the public reference implementation's import paths -------------------------------------


def test_reference_implementation_import_paths_name_the_same_classes():
    from coral.version_control import MergeConflictError, MergeStrategy, VersionGraph
    from coral.version_control.repository import MergeConflictError as RepoConflictError
    from coral.version_control.repository import MergeStrategy as RepoStrategy
    from coral.version_control.version import VersionGraph as VersionModuleGraph

    assert RepoStrategy is MergeStrategy and RepoConflictError is MergeConflictError
    assert VersionModuleGraph is VersionGraph
