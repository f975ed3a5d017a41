"""``CommitStoreTests`` and ``VersionStoreTests``: the records written once (commits, tags)."""

from __future__ import annotations

import time

import pytest

from coral.errors import (
    CorruptObjectError,
    InvalidNameError,
    InvalidValueError,
    RefExistsError,
    RefNotFoundError,
    RepositoryFormatError,
)
from coral.records.backend import RecordBackend, RecordLock
from coral.records.commit import now_utc
from coral.records.commits import CommitStore
from coral.records.tags import Version, VersionStore
from coral.storage.fsutil import dumps_json
from coral.testing._base import H1, H2, H3, RecordSuite, make_commit

__all__ = ["CommitStoreTests", "VersionStoreTests"]


class CommitStoreTests(RecordSuite):
    """Commits are written once, verified against their hash when read, and cached."""

    @pytest.fixture
    def commits(self, backend: RecordBackend) -> CommitStore:
        return CommitStore(backend)

    def test_a_commit_reads_back_equal_and_as_a_copy(self, commits: CommitStore) -> None:
        commit = make_commit()
        commits.put(commit)
        assert commit.commit_hash in commits
        first = commits.get(commit.commit_hash)
        assert first.to_dict() == commit.to_dict()
        first.weight_hashes["w"] = "changed"
        assert commits.get(commit.commit_hash).weight_hashes == commit.weight_hashes

    def test_unknown_and_malformed_hashes_are_not_found(self, commits: CommitStore) -> None:
        with pytest.raises(RefNotFoundError, match="does not exist"):
            commits.get("f" * 32)
        with pytest.raises(RefNotFoundError, match="not a commit hash"):
            commits.get("main")
        assert "f" * 32 not in commits and "main" not in commits and 42 not in commits

    def test_listing_and_prefixes(self, commits: CommitStore, backend: RecordBackend) -> None:
        stored = [make_commit(message=str(n)) for n in range(3)]
        for commit in stored:
            commits.put(commit)
        backend.write("objects/commits/not-a-commit.json", b"{}")
        hashes = sorted(c.commit_hash for c in stored)
        assert sorted(commits.all_hashes()) == hashes
        assert commits.with_prefix(hashes[0][:6]) == [hashes[0]]
        assert commits.with_prefix("") == hashes

    def test_a_tampered_commit_is_corrupt(self, backend: RecordBackend) -> None:
        commit = make_commit()
        CommitStore(backend).put(commit)
        text = (backend.read(f"objects/commits/{commit.commit_hash}.json") or b"").decode()
        backend.write(
            f"objects/commits/{commit.commit_hash}.json",
            text.replace('"message": "m"', '"message": "rewritten"').encode(),
        )
        with pytest.raises(CorruptObjectError, match=commit.commit_hash):
            CommitStore(backend).get(commit.commit_hash)  # a new store: nothing cached

    @pytest.mark.parametrize("text", [b"{broken", b'{"format": 1, "format": 1}', b"[1]"])
    def test_an_unparseable_commit_is_corrupt(self, backend: RecordBackend, text: bytes) -> None:
        commit = make_commit()
        backend.write(f"objects/commits/{commit.commit_hash}.json", text)
        with pytest.raises(CorruptObjectError, match=commit.commit_hash):
            CommitStore(backend).get(commit.commit_hash)

    def test_storing_a_commit_twice_leaves_the_first_record(
        self, commits: CommitStore, backend: RecordBackend
    ) -> None:
        commit = make_commit()
        commits.put(commit)
        before = backend.stat(f"objects/commits/{commit.commit_hash}.json")
        time.sleep(0.01)
        CommitStore(backend).put(commit)
        assert backend.stat(f"objects/commits/{commit.commit_hash}.json") == before

    def test_deleted_commits_are_gone_from_the_cache_too(self, commits: CommitStore) -> None:
        keep, drop = make_commit(message="keep"), make_commit(message="drop")
        commits.put(keep)
        commits.put(drop)
        commits.get(drop.commit_hash)
        commits.delete([drop.commit_hash])
        assert drop.commit_hash not in commits and keep.commit_hash in commits
        assert commits.all_hashes() == [keep.commit_hash]

    def test_the_storage_time_is_known(self, commits: CommitStore) -> None:
        commit = make_commit()
        assert commits.modified(commit.commit_hash) is None
        commits.put(commit)
        modified = commits.modified(commit.commit_hash)
        assert modified is not None and abs(modified - time.time()) < 60


class VersionStoreTests(RecordSuite):
    """Tags are immutable, unique by name, validated, and listed oldest first."""

    @pytest.fixture
    def versions(self, backend: RecordBackend, lock: RecordLock) -> VersionStore:
        return VersionStore(backend, lock)

    def test_tags_are_found_by_name_and_listed_oldest_first(self, versions: VersionStore) -> None:
        first = versions.create("v1", H1, "first", {"acc": 1})
        second = versions.create("v2", H2, None, None)
        assert list(versions.all().values()) == [first, second]
        assert versions.get("v1").metrics == {"acc": 1.0}
        assert versions.by_name("nope") is None
        with pytest.raises(RefNotFoundError, match="did you mean 'v1'"):
            versions.get("v1x")

    def test_a_tag_name_is_taken_once_whatever_the_commit(self, versions: VersionStore) -> None:
        versions.create("v1", H1, None, None)
        with pytest.raises(RefExistsError, match="immutable"):
            versions.create("v1", H2, None, None)
        assert versions.delete("v1").commit_hash == H1
        assert versions.create("v1", H2, None, None).commit_hash == H2

    @pytest.mark.parametrize(
        "metrics", [{"acc": float("nan")}, {"acc": True}, {"": 1.0}, {"acc": "high"}, [1]]
    )
    def test_invalid_metrics_are_refused(self, versions: VersionStore, metrics: object) -> None:
        with pytest.raises(InvalidValueError):
            versions.create("v1", H1, None, metrics)  # type: ignore[arg-type]
        assert versions.all() == {}

    def test_invalid_names_are_refused(self, versions: VersionStore) -> None:
        with pytest.raises(InvalidNameError):
            versions.create("a..b", H1, None, None)

    def test_installing_a_received_tag_never_overwrites_unasked(
        self, versions: VersionStore
    ) -> None:
        local = versions.create("v1", H1, "local", None)
        theirs = versions.create("v2", H2, "theirs", None)
        versions.delete("v2")
        assert versions.install(theirs) is True and versions.get("v2").description == "theirs"
        moved = Version(local.version_id, H3, "v1", "remote", None, now_utc())
        assert versions.install(moved) is False and versions.get("v1") == local
        assert versions.install(moved, replace=True) is True
        assert versions.get("v1").commit_hash == H3
        assert [v.name for v in versions.all().values()].count("v1") == 1

    def test_an_unreadable_tag_names_its_record(
        self, versions: VersionStore, backend: RecordBackend
    ) -> None:
        backend.write("versions/0123456789abcdef.json", b"{nope")
        with pytest.raises(RepositoryFormatError, match=r"versions/0123456789abcdef\.json"):
            versions.all()

    def test_a_tag_changed_behind_the_cache_is_read_again(
        self, versions: VersionStore, backend: RecordBackend
    ) -> None:
        version = versions.create("v1", H1, "short", None)
        assert versions.get("v1").description == "short"
        changed = Version(**{**version.__dict__, "description": "a longer description"})
        backend.write(f"versions/{version.version_id}.json", dumps_json(changed.to_dict()))
        assert versions.get("v1").description == "a longer description"
