"""``StagingAreaTests``, ``ConfigTests`` and ``JsonDocumentTests``: the records changed by
locked read-modify-writes."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from coral.core.weight_tensor import WeightMetadata
from coral.errors import ConfigError, RepositoryFormatError
from coral.records.backend import RecordBackend, RecordLock
from coral.records.config import Config
from coral.records.document import JsonDocument
from coral.records.initial import create_records
from coral.records.staging import StagedChanges, StagedWeight, StagingArea
from coral.testing._base import RecordSuite

__all__ = ["ConfigTests", "JsonDocumentTests", "StagingAreaTests"]


def _staged(name: str, n: int = 0) -> StagedWeight:
    return StagedWeight(f"{n:032x}", WeightMetadata(name, (3,), np.dtype(np.float32)))


class StagingAreaTests(RecordSuite):
    """Staging accumulates, marks partial updates, and loses nothing to a concurrent stage."""

    @pytest.fixture
    def staging(self, backend: RecordBackend, lock: RecordLock) -> StagingArea:
        return StagingArea(backend, lock)

    def test_a_new_area_is_empty(self, staging: StagingArea) -> None:
        assert staging.read() == StagedChanges() and staging.read().empty

    def test_stages_accumulate_and_restaging_replaces(self, staging: StagingArea) -> None:
        staging.stage({"a": _staged("a", 1)})
        staging.stage({"b": _staged("b", 2)})
        staging.stage({"a": _staged("a", 3)})
        assert staging.read().weights == {"a": _staged("a", 3), "b": _staged("b", 2)}

    def test_removals_are_staged_and_undone_by_staging_the_name(self, staging: StagingArea) -> None:
        staging.stage({"a": _staged("a")}, removed={"old", "b"})
        assert staging.read().removed == {"old", "b"}
        staging.stage({"b": _staged("b")})
        assert staging.read().removed == {"old"} and set(staging.read().weights) == {"a", "b"}
        staging.stage({}, removed={"a"})
        assert set(staging.read().weights) == {"b"}

    def test_a_partial_mark_stays_until_a_commit_spends_it(self, staging: StagingArea) -> None:
        staging.stage({"a": _staged("a")}, partial=True)
        staging.stage({"b": _staged("b")})  # a later plain stage keeps the mark
        taken = staging.read()
        assert taken.partial
        staging.stage({"c": _staged("c")})  # staged after the commit read the area
        staging.clear_committed(taken)
        after = staging.read()
        assert set(after.weights) == {"c"} and not after.partial

    def test_clearing_keeps_what_was_restaged_since_and_a_mark_set_since(
        self, staging: StagingArea
    ) -> None:
        staging.stage({"a": _staged("a", 1)}, removed={"gone"})
        taken = staging.read()
        staging.stage({"a": _staged("a", 2)}, partial=True)
        staging.clear_committed(taken)
        after = staging.read()
        assert after.weights == {"a": _staged("a", 2)} and after.removed == frozenset()
        assert after.partial

    def test_unstaging_some_or_all(self, staging: StagingArea) -> None:
        staging.stage({"a": _staged("a"), "b": _staged("b")}, removed={"c"}, partial=True)
        staging.unstage({"a", "c"})
        assert set(staging.read().weights) == {"b"} and staging.read().partial
        staging.unstage({"b"})
        assert staging.read() == StagedChanges()  # an emptied area forgets the mark
        staging.stage({"a": _staged("a")})
        staging.unstage()
        assert staging.read().empty

    def test_two_areas_under_two_keys_are_independent(
        self, staging: StagingArea, backend: RecordBackend, lock: RecordLock
    ) -> None:
        own = StagingArea(backend, lock, key="runs/exp/staged.json")
        staging.stage({"a": _staged("a")})
        own.stage({"b": _staged("b")})
        assert set(staging.read().weights) == {"a"} and set(own.read().weights) == {"b"}

    def test_concurrent_stages_keep_every_entry(self, staging: StagingArea) -> None:
        def stage(n: int) -> None:
            for i in range(10):
                staging.stage({f"w{n}.{i}": _staged(f"w{n}.{i}", i)})

        threads = [threading.Thread(target=stage, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(staging.read().weights) == 40

    @pytest.mark.parametrize(
        "text",
        [
            b"{nope",
            b'{"format": 2, "weights": {}}',
            b'{"format": 1, "weights": {}, "partial": "yes"}',
        ],
    )
    def test_a_damaged_area_says_how_to_clear_it(
        self, staging: StagingArea, backend: RecordBackend, text: bytes
    ) -> None:
        backend.write("staging/staged.json", text)
        with pytest.raises(RepositoryFormatError, match=r"staged\.json.*clear the staging area"):
            staging.read()


class ConfigTests(RecordSuite):
    """Dotted keys, defaults, validation before anything is written, tools' own sections."""

    @pytest.fixture
    def config(self, backend: RecordBackend, lock: RecordLock) -> Config:
        create_records(backend)
        return Config(backend, lock)

    def test_defaults_and_values_seen_by_a_second_reader(
        self, config: Config, backend: RecordBackend, lock: RecordLock
    ) -> None:
        assert config["core.compression"] == "zstd"
        config["core.similarity_threshold"] = 0.9
        assert Config(backend, lock).get("core.similarity_threshold") == 0.9
        assert config.get("user.name", None) is None
        with pytest.raises(ConfigError, match="not set"):
            config.get("user.name")

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("core.compression", "lz77"),
            ("core.similarity_threshold", 1.5),
            ("core.delta_encoding", "yes"),
            ("core.max_delta_depth", -1),
            ("user.name", ""),
            ("core.unknown", 1),
            ("nodot", 1),
            ("a.b.c", 1),
        ],
    )
    def test_invalid_values_are_refused_and_nothing_is_written(
        self, config: Config, backend: RecordBackend, key: str, value: object
    ) -> None:
        before = backend.read("config.json")
        with pytest.raises(ConfigError):
            config.set(key, value)
        assert backend.read("config.json") == before

    def test_the_reference_systems_compression_names_mean_zstd(self, config: Config) -> None:
        config.set("core.compression", "gzip")
        assert config["core.compression"] == "zstd"

    def test_tools_keep_their_own_sections(self, config: Config) -> None:
        config.set("jupyter.theme", "dark")
        assert config.get("jupyter.theme") == "dark"
        config.unset("jupyter.theme")
        config.unset("jupyter.theme")  # unsetting twice is fine
        assert config.get("jupyter.theme", None) is None

    def test_a_hand_edited_invalid_value_says_how_to_fix_it(
        self, config: Config, backend: RecordBackend
    ) -> None:
        backend.write("config.json", b'{"core": {"max_delta_depth": "ten"}}')
        with pytest.raises(ConfigError, match=r"repo\.config\.set"):
            config.get("core.max_delta_depth")

    @pytest.mark.parametrize("text", [b"{nope", b"[1, 2]", b'{"x": NaN}'])
    def test_a_damaged_file_is_a_format_error(
        self, config: Config, backend: RecordBackend, text: bytes
    ) -> None:
        backend.write("config.json", text)
        with pytest.raises(RepositoryFormatError, match=r"config\.json"):
            config.as_dict()


class JsonDocumentTests(RecordSuite):
    """A JSON object under one key: ``{}`` when absent, locked read-modify-writes."""

    @pytest.fixture
    def document(self, backend: RecordBackend, lock: RecordLock) -> JsonDocument:
        return JsonDocument(backend, "remotes.json", lock)

    def test_an_absent_document_is_empty(self, document: JsonDocument) -> None:
        assert document.read() == {}

    def test_edits_are_written_only_when_something_changed(
        self, document: JsonDocument, backend: RecordBackend
    ) -> None:
        with document.editing() as data:
            data["origin"] = {"url": "file:///x"}
        assert document.read() == {"origin": {"url": "file:///x"}}
        before = backend.stat("remotes.json")
        time.sleep(0.01)
        with document.editing():
            pass
        assert backend.stat("remotes.json") == before

    def test_a_failed_edit_writes_nothing(self, document: JsonDocument) -> None:
        with pytest.raises(RuntimeError), document.editing() as data:
            data["x"] = 1
            raise RuntimeError("stopped")
        assert document.read() == {}

    def test_concurrent_edits_keep_every_key(self, document: JsonDocument) -> None:
        def add(n: int) -> None:
            with document.editing() as data:
                data[str(n)] = n

        threads = [threading.Thread(target=add, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert document.read() == {str(n): n for n in range(8)}

    @pytest.mark.parametrize("text", [b"{nope", b'"text"'])
    def test_a_damaged_document_names_itself(
        self, document: JsonDocument, backend: RecordBackend, text: bytes
    ) -> None:
        backend.write("remotes.json", text)
        with pytest.raises(RepositoryFormatError, match=r"remotes\.json"):
            document.read()
