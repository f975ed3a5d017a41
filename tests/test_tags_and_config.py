"""Tags (versions with metrics) and repository configuration."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from coral.errors import (
    ConfigError,
    InvalidNameError,
    InvalidValueError,
    RefExistsError,
    RefNotFoundError,
)
from coral.version_control import Repository, Version
from tests.helpers import reopen, repository_state

pytestmark = pytest.mark.disk_and_memory


@pytest.fixture
def committed(repo: Repository) -> Repository:
    repo.stage_weights({"w": np.ones(2, np.float32)})
    repo.commit("first")
    return repo


def test_tag_version_records_commit_description_and_metrics(committed: Repository) -> None:
    version = committed.tag_version(
        "v1.0.0", "Production release", {"accuracy": 0.95, "latency_ms": 45}
    )
    assert version.commit_hash == committed.head.commit_hash
    assert version.metrics == {"accuracy": 0.95, "latency_ms": 45.0}
    record = committed.parts.records.read(f"versions/{version.version_id}.json")
    assert record is not None and Version.from_dict(json.loads(record)) == version
    assert committed.version_graph.versions[version.version_id] == version
    assert committed.get_version("v1.0.0") == version


def test_tags_can_point_at_older_commits_and_list_oldest_first(committed: Repository) -> None:
    first = committed.head.commit_hash
    committed.stage_weights({"w": np.zeros(2, np.float32)})
    committed.commit("second")
    committed.tag_version("old", commit_ref="HEAD~1")
    committed.tag_version("new")
    assert [v.name for v in committed.list_versions()] == ["old", "new"]
    assert committed.get_version("old").commit_hash == first


def test_duplicate_tag_names_are_refused_even_on_another_commit(committed: Repository) -> None:
    committed.tag_version("best")
    committed.stage_weights({"w": np.zeros(2, np.float32)})
    committed.commit("second")
    with pytest.raises(RefExistsError, match="already exists"):
        committed.tag_version("best")
    committed.delete_version("best")
    assert committed.tag_version("best").commit_hash == committed.head.commit_hash


@pytest.mark.parametrize(
    "metrics",
    [
        {"acc": math.nan},
        {"acc": math.inf},
        {"acc": "high"},
        {"acc": True},
        {"": 1.0},
        [("acc", 1.0)],
    ],
)
def test_metrics_must_be_finite_numbers(committed: Repository, metrics: object) -> None:
    with pytest.raises(InvalidValueError):
        committed.tag_version("v", metrics=metrics)  # type: ignore[arg-type]
    assert committed.list_versions() == []


def test_numpy_scalar_metrics_are_accepted(committed: Repository) -> None:
    version = committed.tag_version("np", metrics={"acc": np.float32(0.5), "n": np.int64(3)})
    assert version.metrics == {"acc": 0.5, "n": 3.0}


def test_tag_names_follow_ref_rules(committed: Repository) -> None:
    with pytest.raises(InvalidNameError):
        committed.tag_version("bad name")
    with pytest.raises(RefNotFoundError):
        committed.get_version("missing")


def test_tagging_before_any_commit_is_refused(repo: Repository) -> None:
    with pytest.raises(RefNotFoundError, match="no commits yet"):
        repo.tag_version("v0")


def test_config_defaults_and_persistence(repo: Repository) -> None:
    assert repo.config["core.compression"] == "zstd"
    assert repo.config.get("core.similarity_threshold") == 0.98
    repo.config["core.similarity_threshold"] = 0.9
    assert reopen(repo).config["core.similarity_threshold"] == 0.9
    stored = json.loads(repo.parts.records.read("config.json") or b"")
    assert stored["core"]["similarity_threshold"] == 0.9


def test_config_accepts_the_reference_systems_compression_names(repo: Repository) -> None:
    repo.config.set("core.compression", "gzip")  # the seed chapter's example value
    assert repo.config["core.compression"] == "zstd"
    repo.config.set("core.compression", "none")
    reopened = reopen(repo)
    reopened.stage_weights({"w": np.ones(1000, np.float32)})
    oid = reopened.commit("raw").weight_hashes["w"]
    assert reopened.store.info(oid).codec == "raw"


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("core.compression", "lz77"),
        ("core.similarity_threshold", 1.5),
        ("core.similarity_threshold", "high"),
        ("core.delta_encoding", "yes"),
        ("core.max_delta_depth", -1),
        ("user.name", ""),
        ("core.unknown", 1),
        ("nodot", 1),
    ],
)
def test_invalid_config_values_are_refused(repo: Repository, key: str, value: object) -> None:
    before = repository_state(repo)
    with pytest.raises(ConfigError):
        repo.config.set(key, value)
    assert repository_state(repo) == before


def test_tools_may_keep_their_own_config_sections(repo: Repository) -> None:
    repo.config.set("jupyter.theme", "dark")
    assert repo.config.get("jupyter.theme") == "dark"
    repo.config.unset("jupyter.theme")
    assert repo.config.get("jupyter.theme", None) is None


def test_a_hand_edited_invalid_config_value_is_reported_with_the_fix(repo: Repository) -> None:
    data = json.loads(repo.parts.records.read("config.json") or b"")
    data["core"]["max_delta_depth"] = "ten"
    repo.parts.records.write("config.json", json.dumps(data).encode())  # as by hand
    with pytest.raises(ConfigError, match=r"repo\.config\.set"):
        repo.config.get("core.max_delta_depth")
    report = repo.fsck()
    assert not report.ok and "core.max_delta_depth" in str(report)
