"""Hugging Face-style model folders: shards and the files beside them are committed, carried
forward, moved by push/pull, and exported back as a folder ``from_pretrained`` loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from coral.errors import InvalidValueError
from coral.integrations.folders import read_model_folder, write_model_folder
from coral.version_control import Repository
from tests.helpers import assert_bit_exact, tiny_bert


def _folder(root: Path) -> Path:
    rng = np.random.default_rng(0)
    weights = {
        f"layer.{i}.weight": rng.standard_normal((64, 64)).astype(np.float32) for i in range(4)
    }
    write_model_folder(
        root,
        weights,
        {
            "config.json": b'{"model_type": "toy"}',
            "tokenizer/vocab.txt": "[PAD]\nhello\nwörld\n".encode(),
        },
        shard_bytes=40_000,  # 16 KiB tensors: two per shard
    )
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main")
    (root / "pytorch_model.bin").write_bytes(b"another copy of the weights")
    return root


def test_a_folder_round_trips_shards_and_files(repo: Repository, tmp_path: Path) -> None:
    source = _folder(tmp_path / "model")
    assert json.loads((source / "model.safetensors.index.json").read_text())["weight_map"]
    loaded = read_model_folder(source)
    assert sorted(loaded.files) == ["config.json", "tokenizer/vocab.txt"]
    assert loaded.skipped == ["pytorch_model.bin"]
    repo.stage_weights(loaded.weights)
    repo.stage_files(loaded.files)
    first = repo.commit("a model folder")
    assert sorted(repo.get_all_weights()) == sorted(loaded.weights)  # files are not weights
    assert repo.get_files() == loaded.files
    # The next commit carries the files forward, even one that restages every weight.
    repo.stage_weights(
        {**loaded.weights, "layer.0.weight": np.zeros((64, 64), np.float32)}, remove_missing=True
    )
    repo.commit("tuned")
    assert repo.get_files() == loaded.files
    changed = repo.diff(first.commit_hash)
    assert list(changed["modified"]) == ["layer.0.weight"]
    out = tmp_path / "exported"
    write_model_folder(
        out,
        repo.get_all_weights(first.commit_hash),
        repo.get_files(first.commit_hash),
        shard_bytes=40_000,
    )
    again = read_model_folder(out)
    assert again.files == loaded.files
    for name, arr in loaded.weights.items():
        assert_bit_exact(again.weights[name], arr)


def test_file_names_are_reserved_and_paths_checked(repo: Repository, tmp_path: Path) -> None:
    with pytest.raises(InvalidValueError, match="are reserved"):
        repo.stage_weights({"__file__/config.json": np.zeros(3, np.uint8)})
    with pytest.raises(InvalidValueError, match="relative"):
        repo.stage_files({"../escape.txt": b"x"})
    with pytest.raises(InvalidValueError, match="relative"):
        repo.stage_files({"/etc/passwd": b"x"})
    with pytest.raises(InvalidValueError, match="outside"):
        write_model_folder(tmp_path / "out", {}, {"a/../../x": b"x"})
    with pytest.raises(InvalidValueError, match=r"no \.safetensors"):
        read_model_folder(tmp_path)


def test_files_travel_with_push_and_pull(repo: Repository, tmp_path: Path) -> None:
    loaded = read_model_folder(_folder(tmp_path / "model"))
    repo.stage_weights(loaded.weights)
    repo.stage_files(loaded.files)
    repo.commit("to share")
    repo.add_remote("origin", f"file://{tmp_path / 'remote'}")
    repo.push("origin")
    clone = Repository.clone(f"file://{tmp_path / 'remote'}", tmp_path / "clone")
    assert clone.get_files() == loaded.files


def test_transformers_loads_an_exported_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tiny_bert(tmp_path / "bert", monkeypatch)
    import torch
    import transformers

    repo = Repository(tmp_path / "repo", init=True)
    loaded = read_model_folder(tmp_path / "bert")
    repo.stage_weights(loaded.weights)
    repo.stage_files(loaded.files)
    made = repo.commit("tiny bert")
    write_model_folder(
        tmp_path / "out",
        repo.get_all_weights(),
        repo.get_files(),
        {"coral_commit": made.commit_hash},
    )
    back = transformers.BertModel.from_pretrained(tmp_path / "out").eval()
    ids = torch.tensor([[2, 3, 4]])
    with torch.no_grad():
        assert torch.equal(model(ids).last_hidden_state, back(ids).last_hidden_state)
