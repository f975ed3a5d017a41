"""``RefStoreTests`` and ``TrackingRefsTests``: HEAD, branches, reflogs, remote-tracking refs."""

from __future__ import annotations

import pytest

from coral.errors import (
    ConcurrentUpdateError,
    InvalidNameError,
    RefExistsError,
    RepositoryFormatError,
)
from coral.records.backend import RecordBackend, RecordLock
from coral.records.initial import create_records
from coral.records.refs import Branch, Head, RefStore
from coral.records.tracking import TrackingRefs
from coral.testing._base import H1, H2, H3, RecordSuite

__all__ = ["RefStoreTests", "TrackingRefsTests"]


class RefStoreTests(RecordSuite):
    """HEAD, branches by compare-and-swap, git's D/F rule, and the reflogs."""

    @pytest.fixture
    def refs(self, backend: RecordBackend, lock: RecordLock) -> RefStore:
        create_records(backend)
        return RefStore(backend, lock)

    def _branch(self, refs: RefStore, name: str, commit_hash: str = H1) -> None:
        refs.write_branch(Branch(name, commit_hash), expected=None, who="t", message="create")

    def test_a_new_repository_is_on_an_unborn_main(self, refs: RefStore) -> None:
        assert refs.head() == Head("main", None)
        assert refs.branch_names() == [] and refs.list_branches() == []

    def test_head_attaches_and_detaches(self, refs: RefStore) -> None:
        self._branch(refs, "dev", H2)
        refs.set_head_branch("dev")
        assert refs.head() == Head("dev", H2)
        refs.set_head_detached(H3)
        assert refs.head() == Head(None, H3) and refs.head().detached
        with pytest.raises(InvalidNameError):
            refs.set_head_branch("a..b")

    @pytest.mark.parametrize(
        "content", [b"", b"\xff\xfe", b"ref: refs/heads/../x", b"garbage", b"x" * 5000]
    )
    def test_a_damaged_head_is_a_format_error_naming_head(
        self, refs: RefStore, backend: RecordBackend, content: bytes
    ) -> None:
        backend.write("HEAD", content)
        with pytest.raises(RepositoryFormatError, match=r"HEAD.*'ref: refs/heads/main'"):
            refs.head()

    def test_a_missing_head_says_how_to_restore_it(
        self, refs: RefStore, backend: RecordBackend
    ) -> None:
        backend.delete("HEAD")
        with pytest.raises(RepositoryFormatError, match="missing"):
            refs.head()

    def test_branches_move_only_from_the_expected_commit(self, refs: RefStore) -> None:
        self._branch(refs, "main", H1)
        with pytest.raises(RefExistsError, match="already exists"):
            self._branch(refs, "main", H2)
        with pytest.raises(ConcurrentUpdateError, match="retry"):
            refs.write_branch(Branch("main", H3), expected=H2, who="t", message="move")
        refs.write_branch(Branch("main", H2, "dev"), expected=H1, who="t", message="move")
        assert refs.read_branch("main") == Branch("main", H2, "dev")
        with pytest.raises(ValueError, match="full commit hash"):
            refs.write_branch(Branch("main", "abc"), expected=H2, who="t", message="move")

    def test_a_name_is_a_branch_or_a_folder_of_branches_never_both(self, refs: RefStore) -> None:
        self._branch(refs, "feature/x")
        with pytest.raises(RefExistsError, match="feature/x"):
            self._branch(refs, "feature")
        self._branch(refs, "solo")
        with pytest.raises(RefExistsError, match="solo"):
            self._branch(refs, "solo/child")
        refs.delete_branch("feature/x", who="t")
        self._branch(refs, "feature")
        assert refs.branch_names() == ["feature", "solo"]

    def test_branch_names_are_sorted_and_skip_invalid_names_without_reading(
        self, refs: RefStore, backend: RecordBackend
    ) -> None:
        for name in ["b", "a/z", "a/y"]:
            self._branch(refs, name)
        backend.write("refs/heads/bad..name", b"{}")
        backend.write("refs/heads/unreadable", b"{not json")
        assert refs.branch_names() == ["a/y", "a/z", "b", "unreadable"]

    def test_an_unreadable_branch_names_its_record(
        self, refs: RefStore, backend: RecordBackend
    ) -> None:
        backend.write("refs/heads/main", b'{"name": "main", "name": 1}')
        with pytest.raises(RepositoryFormatError, match="refs/heads/main"):
            refs.read_branch("main")
        backend.write("refs/heads/main", b'{"name": "main", "commit_hash": "abc"}')
        with pytest.raises(RepositoryFormatError, match="commit hash"):
            refs.read_branch("main")

    def test_every_move_is_logged_oldest_first_and_heads_moves_too(self, refs: RefStore) -> None:
        self._branch(refs, "main", H1)
        refs.write_branch(Branch("main", H2), expected=H1, who="me", message="second")
        self._branch(refs, "dev", H3)  # HEAD is not on dev
        log = refs.reflog("refs/heads/main")
        assert [(e.old, e.new, e.message) for e in log] == [
            (None, H1, "create"),
            (H1, H2, "second"),
        ]
        assert log[1].who == "me"
        assert [e.new for e in refs.reflog("HEAD")] == [H1, H2]
        assert refs.reflog_refs() == ["HEAD", "refs/heads/dev", "refs/heads/main"]

    def test_a_torn_reflog_line_is_skipped(self, refs: RefStore, backend: RecordBackend) -> None:
        self._branch(refs, "main", H1)
        backend.append("logs/refs/heads/main", b'{"old": null, "new": "11')  # a crash mid-line
        backend.append("logs/refs/heads/main", b"\n")
        refs.write_branch(Branch("main", H2), expected=H1, who="t", message="after")
        assert [e.new for e in refs.reflog("refs/heads/main")] == [H1, H2]

    def test_expiring_the_reflog_drops_what_is_selected(self, refs: RefStore) -> None:
        self._branch(refs, "main", H1)
        refs.write_branch(Branch("main", H2), expected=H1, who="t", message="drop me")
        refs.write_branch(Branch("main", H3), expected=H2, who="t", message="keep")
        assert refs.expire_reflog("refs/heads/main", lambda e: e.message == "drop me") == 1
        assert [e.message for e in refs.reflog("refs/heads/main")] == ["create", "keep"]
        assert refs.expire_reflog("refs/heads/none", lambda e: True) == 0

    def test_a_reflog_that_cannot_be_written_warns_and_the_ref_still_moves(
        self, refs: RefStore, backend: RecordBackend
    ) -> None:
        backend.write("logs/refs/heads/stray", b"a record where a folder must go")
        with pytest.warns(UserWarning, match="reflog"):
            self._branch(refs, "stray/child", H1)
        assert refs.read_branch("stray/child") == Branch("stray/child", H1)

    def test_deleting_a_branch_drops_its_reflog_but_not_heads(self, refs: RefStore) -> None:
        self._branch(refs, "main", H1)
        self._branch(refs, "dev/x", H2)
        assert refs.delete_branch("dev/x", who="t") == Branch("dev/x", H2)
        assert refs.read_branch("dev/x") is None and not refs.branch_exists("dev/x")
        assert refs.reflog("refs/heads/dev/x") == []
        assert refs.reflog_refs() == ["HEAD", "refs/heads/main"]
        with pytest.raises(ConcurrentUpdateError):
            refs.delete_branch("dev/x", who="t")

    def test_the_last_checked_out_branch_comes_from_heads_reflog(self, refs: RefStore) -> None:
        self._branch(refs, "main", H1)
        self._branch(refs, "dev", H2)
        refs.append_reflog("HEAD", H1, H2, "t", "checkout: moving from main to dev")
        refs.append_reflog("HEAD", H2, H1, "t", "checkout: moving from dev to gone")
        assert refs.last_checked_out() == "dev"
        assert refs.branch_exists("dev") and not refs.branch_exists("a..b")


class TrackingRefsTests(RecordSuite):
    """Where each remote branch was last seen; names clash as git's D/F rule says."""

    @pytest.fixture
    def tracking(self, backend: RecordBackend) -> TrackingRefs:
        return TrackingRefs(backend)

    def test_recorded_refs_read_back_per_remote_and_all_together(
        self, tracking: TrackingRefs
    ) -> None:
        tracking.record("origin", "main", H1)
        tracking.record("origin", "feature/x", H2)
        tracking.record("backup", "main", H3)
        assert tracking.get("origin", "main") == H1 and tracking.get("origin", "nope") is None
        assert tracking.all("origin") == {"feature/x": H2, "main": H1}
        assert tracking.remotes() == ["backup", "origin"]
        assert tracking.every_ref() == {
            "backup/main": H3,
            "origin/feature/x": H2,
            "origin/main": H1,
        }
        assert sorted(tracking.every_commit()) == [H1, H2, H3]

    def test_a_name_and_a_folder_of_it_clash(self, tracking: TrackingRefs) -> None:
        tracking.record("origin", "dev", H1)
        with pytest.raises(RefExistsError, match="origin/dev/x"):
            tracking.record("origin", "dev/x", H2)
        tracking.record("origin", "rel/1", H1)
        with pytest.raises(RefExistsError, match="clashes"):
            tracking.record("origin", "rel", H2)
        tracking.remove("origin", "rel/1")  # frees the folder's name
        tracking.record("origin", "rel", H2)
        assert tracking.all("origin") == {"dev": H1, "rel": H2}

    def test_forgetting_branches_and_remotes(self, tracking: TrackingRefs) -> None:
        for branch in ("a", "b", "c/d"):
            tracking.record("origin", branch, H1)
        tracking.record("other", "a", H2)
        tracking.keep_only("origin", {"a"})
        assert tracking.all("origin") == {"a": H1}
        tracking.drop_remote("origin")
        assert tracking.all("origin") == {} and tracking.remotes() == ["other"]

    @pytest.mark.parametrize("remote", ["a/b", "a..b", ""])
    def test_invalid_remote_names_are_refused(self, tracking: TrackingRefs, remote: str) -> None:
        with pytest.raises(InvalidNameError):
            tracking.record(remote, "main", H1)

    @pytest.mark.parametrize("text", [b"{nope", b"[1]", b'{"commit_hash": "abc"}'])
    def test_a_damaged_ref_names_its_record(
        self, tracking: TrackingRefs, backend: RecordBackend, text: bytes
    ) -> None:
        backend.write("refs/remotes/origin/main", text)
        with pytest.raises(RepositoryFormatError, match="refs/remotes/origin/main"):
            tracking.get("origin", "main")
