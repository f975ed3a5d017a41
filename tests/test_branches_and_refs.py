"""Branches, checkout, detached HEAD, ref names and ref resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coral.errors import (
    AmbiguousRefError,
    CannotDeleteCurrentBranchError,
    InvalidNameError,
    RefExistsError,
    RefNotFoundError,
    StagedChangesError,
    UnbornBranchError,
    UnmergedBranchError,
)
from coral.version_control import Repository
from tests.helpers import repository_state

pytestmark = pytest.mark.disk_and_memory


def _commit(repo: Repository, value: float, message: str | None = None) -> str:
    repo.stage_weights({"w": np.full(3, value, np.float32)})
    return repo.commit(message or f"w={value}").commit_hash


def test_create_branch_points_at_head_and_records_its_origin(repo: Repository) -> None:
    base = _commit(repo, 1)
    branch = repo.create_branch("experiment")
    assert (branch.name, branch.commit_hash, branch.parent_branch) == ("experiment", base, "main")
    assert repo.current_branch == "main"  # creating does not switch


def test_create_branch_from_a_ref(repo: Repository) -> None:
    first = _commit(repo, 1)
    _commit(repo, 2)
    assert repo.create_branch("old", from_ref=first[:6]).commit_hash == first
    assert repo.create_branch("copy", from_ref="old").parent_branch == "old"
    assert repo.create_branch("back", from_ref="main~1").commit_hash == first


def test_checkout_switches_branches_and_commits_go_to_the_checked_out_branch(
    repo: Repository,
) -> None:
    base = _commit(repo, 1)
    repo.create_branch("exp")
    repo.checkout("exp")
    tip = _commit(repo, 2)
    assert repo.branch_manager.get_branch("exp").commit_hash == tip
    assert repo.branch_manager.get_branch("main").commit_hash == base
    assert repo.checkout("main").commit_hash == base


def test_detached_head_commits_move_head_only_like_git(repo: Repository) -> None:
    first = _commit(repo, 1)
    _commit(repo, 2)
    repo.checkout(first)
    assert repo.parts.records.read("HEAD") == first.encode()  # the bare hash, as git
    assert repo.current_branch is None and repo.head.detached
    detached = _commit(repo, 3)
    assert repo.head.commit_hash == detached
    assert repo.get_commit("HEAD").parent_hashes == [first]
    assert repo.branch_manager.get_branch("main").commit_hash != detached
    repo.create_branch("rescued")  # keep the detached work on a branch
    assert repo.branch_manager.get_branch("rescued").commit_hash == detached


def test_checkout_refuses_to_drop_staged_weights_unless_forced(repo: Repository) -> None:
    _commit(repo, 1)
    repo.create_branch("exp")
    repo.stage_weights({"w": np.zeros(3, np.float32)})
    with pytest.raises(StagedChangesError, match="reset"):
        repo.checkout("exp")
    assert repo.current_branch == "main" and not repo.status().clean
    repo.checkout("exp", force=True)
    assert repo.current_branch == "exp" and repo.status().clean


def test_checkout_of_the_current_branch_keeps_staged_weights(repo: Repository) -> None:
    _commit(repo, 1)
    repo.stage_weights({"w": np.zeros(3, np.float32)})
    repo.checkout("main")
    assert repo.status().modified == ["w"]


def test_list_branches_is_sorted_and_marks_nothing_before_the_first_commit(
    repo: Repository,
) -> None:
    assert repo.branch_manager.list_branches() == []
    assert repo.branch_manager.get_current_branch() == "main"
    _commit(repo, 1)
    for name in ("zeta", "alpha", "feature/x"):
        repo.create_branch(name)
    names = [b.name for b in repo.branch_manager.list_branches()]
    assert names == ["alpha", "feature/x", "main", "zeta"]


def test_deleting_branches(repo: Repository) -> None:
    _commit(repo, 1)
    repo.create_branch("merged")
    repo.create_branch("exp")
    repo.checkout("exp")
    _commit(repo, 2)
    repo.checkout("main")
    with pytest.raises(CannotDeleteCurrentBranchError, match="Cannot delete current branch") as e:
        repo.branch_manager.delete_branch("main")
    assert isinstance(e.value, ValueError)
    with pytest.raises(UnmergedBranchError, match="force=True"):
        repo.delete_branch("exp")
    repo.delete_branch("merged")
    repo.delete_branch("exp", force=True)
    assert [b.name for b in repo.branch_manager.list_branches()] == ["main"]
    with pytest.raises(RefNotFoundError):
        repo.branch_manager.get_branch("exp")


@pytest.mark.disk_only  # gc rewrites pack files
def test_a_force_deleted_branch_tip_is_in_heads_reflog_survives_gc_and_can_be_restored(
    repo: Repository,
) -> None:
    _commit(repo, 1)
    repo.create_branch("exp")
    repo.checkout("exp")
    tip = _commit(repo, 2)
    repo.checkout("main")
    repo.delete_branch("exp", force=True)
    assert tip in [entry.new for entry in repo.reflog("HEAD")]
    repo.gc(prune="now")  # only HEAD's reflog still names the tip (for 30 days by default)
    assert float(repo.get_weight("w", tip).data[0]) == 2
    assert repo.create_branch("exp", tip).commit_hash == tip
    assert float(repo.get_weight("w", "exp").data[0]) == 2
    assert repo.fsck().ok


def test_duplicate_branch_and_path_conflicts_are_refused(repo: Repository) -> None:
    _commit(repo, 1)
    repo.create_branch("feature/x")
    with pytest.raises(RefExistsError):
        repo.create_branch("feature/x")
    with pytest.raises(RefExistsError, match="feature/x"):
        repo.create_branch("feature")
    repo.create_branch("solo")
    with pytest.raises(RefExistsError, match="solo"):
        repo.create_branch("solo/child")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../../escape",
        "a/../b",
        "/abs",
        "trailing/",
        "double//slash",
        ".hidden",
        "x.lock",
        "with space",
        "tilde~1",
        "caret^",
        "colon:",
        "star*",
        "question?",
        "bracket[",
        "back\\slash",
        "at@{brace",
        "HEAD",
        "dot.",
        "ctrl\x07",
    ],
)
def test_invalid_branch_names_are_refused_and_touch_nothing(repo: Repository, name: str) -> None:
    _commit(repo, 1)
    before = repository_state(repo)
    with pytest.raises(InvalidNameError):
        repo.create_branch(name)
    assert [b.name for b in repo.branch_manager.list_branches()] == ["main"]
    assert repository_state(repo) == before
    if repo.parts.layout is not None:
        assert not (repo.parts.layout.root / "escape").exists()


def test_branch_name_must_be_a_string(repo: Repository) -> None:
    _commit(repo, 1)
    with pytest.raises(InvalidNameError):
        repo.create_branch(42)  # type: ignore[arg-type]


def test_ref_resolution_table(repo: Repository) -> None:
    a = _commit(repo, 1)
    b = _commit(repo, 2)
    c = _commit(repo, 3)
    repo.tag_version("v1", commit_ref=a)
    version_id = repo.get_version("v1").version_id
    cases = {
        "HEAD": c,
        "main": c,
        "main~1": b,
        "HEAD~2": a,
        "HEAD^": b,
        "HEAD^1": b,
        "HEAD^0": c,
        "HEAD~1^1": a,
        "v1": a,
        version_id: a,
        c: c,
        c[:4]: c,
        c[:10]: c,
    }
    for ref, expected in cases.items():
        assert repo.resolve_ref(ref) == expected, ref


@pytest.mark.parametrize("ref", ["nope", "HEAD~5", "HEAD^2", "main~x", "~1", "zzzz", "abc"])
def test_unknown_refs_raise_ref_not_found(repo: Repository, ref: str) -> None:
    _commit(repo, 1)
    _commit(repo, 2)
    with pytest.raises(RefNotFoundError) as info:
        repo.resolve_ref(ref)
    assert isinstance(info.value, KeyError)


def test_unknown_ref_message_suggests_close_names(repo: Repository) -> None:
    _commit(repo, 1)
    repo.create_branch("experiment-lr")
    with pytest.raises(RefNotFoundError, match="did you mean 'experiment-lr'"):
        repo.checkout("experiment-rl")


def test_an_ambiguous_abbreviation_is_refused(repo: Repository) -> None:
    hashes = [_commit(repo, float(i)) for i in range(40)]
    prefixes: dict[str, int] = {}
    for h in hashes:
        prefixes[h[:1]] = prefixes.get(h[:1], 0) + 1
    shared = next(p for p, n in prefixes.items() if n > 1)
    with pytest.raises(RefNotFoundError):
        repo.resolve_ref(shared)  # shorter than 4 hex digits is never a hash
    candidates = [h for h in hashes if h.startswith(shared)]
    common = _common_prefix(candidates[:2])
    if len(common) >= 4:
        with pytest.raises(AmbiguousRefError):
            repo.resolve_ref(common)


def _common_prefix(values: list[str]) -> str:
    out = ""
    for chars in zip(*values, strict=False):
        if len(set(chars)) != 1:
            break
        out += chars[0]
    return out


def test_head_of_an_empty_repository_is_unborn(repo: Repository) -> None:
    with pytest.raises(UnbornBranchError, match="no commits yet"):
        repo.resolve_ref("HEAD")
    with pytest.raises(UnbornBranchError):
        repo.get_all_weights()
    assert repo.log() == []


def test_branch_and_tag_names_may_not_collide(repo: Repository) -> None:
    _commit(repo, 1)
    repo.create_branch("release")
    with pytest.raises(ValueError, match="already a branch"):
        repo.tag_version("release")
    repo.tag_version("v2")
    with pytest.raises(ValueError, match="already a tag"):
        repo.create_branch("v2")


def test_reflog_records_commits_and_checkouts(repo: Repository) -> None:
    first = _commit(repo, 1)
    repo.create_branch("exp")
    repo.checkout("exp")
    entries = repo.parts.refs.reflog("HEAD")
    assert entries[0].new == first and entries[0].message.startswith("commit:")
    assert entries[-1].message == "checkout: moving from main to exp"


def test_head_reflog_keeps_detached_work_reachable_after_checking_out_a_branch(
    repo: Repository,
) -> None:
    c1, c2 = _commit(repo, 1), _commit(repo, 2)
    repo.checkout(c1)
    assert repo.resolve_ref("@{1}") == c2  # detached: @{N} reads HEAD's reflog, as in git
    detached = _commit(repo, 3, "detached work")
    repo.checkout("main")
    entries = repo.reflog("HEAD")  # newest first
    assert [(e.old, e.new) for e in entries] == [
        (detached, c2),
        (c1, detached),
        (c2, c1),
        (c1, c2),
        (None, c1),
    ]
    assert entries[0].message == f"checkout: moving from {detached[:8]} to main"
    assert entries[1].message == "commit: detached work"
    assert [repo.resolve_ref(f"HEAD@{{{n}}}") for n in range(5)] == [c2, detached, c1, c2, c1]
    assert repo.resolve_ref("@{1}") == c1  # on a branch: the branch's own reflog
    assert [e.new for e in repo.reflog()] == [c2, c1]  # default: the current branch's
    with pytest.raises(RefNotFoundError, match="goes back only 4"):
        repo.resolve_ref("HEAD@{5}")


def test_every_move_of_head_is_in_its_reflog_and_nothing_else_is(repo: Repository) -> None:
    c1 = _commit(repo, 1)
    repo.create_branch("exp")  # creating a branch does not move HEAD
    repo.checkout("exp")
    e1 = _commit(repo, 2)
    repo.checkout("main")
    repo.merge("exp")  # a fast-forward
    repo.reset("HEAD~1")
    repo.delete_branch("exp", force=True)  # nor does deleting one
    entries = repo.reflog("HEAD")
    assert [e.message for e in entries] == [
        "reset: moving to HEAD~1",
        "merge exp: Fast-forward",
        "checkout: moving from exp to main",
        "commit: w=2",
        "checkout: moving from main to exp",
        "commit: w=1",
    ]
    assert [e.new for e in entries] == [c1, e1, c1, e1, c1, c1]
    assert [repo.resolve_ref(f"HEAD@{{{n}}}") for n in range(6)] == [e.new for e in entries]


def test_a_pull_that_moves_the_current_branch_moves_head_in_its_reflog(
    repo: Repository, tmp_path: Path
) -> None:
    _commit(repo, 1)
    repo.add_remote("origin", f"file://{tmp_path / 'remote'}")
    repo.push("origin")
    copy = Repository.clone(f"file://{tmp_path / 'remote'}", tmp_path / "copy")
    newer = _commit(repo, 2)
    repo.push("origin")
    copy.pull("origin")
    latest = copy.reflog("HEAD")[0]
    assert (latest.new, latest.message) == (newer, "pull origin: fast-forward")
    assert copy.resolve_ref("HEAD@{0}") == newer


def test_a_branch_name_can_become_a_folder_after_deletion_and_back(repo: Repository) -> None:
    _commit(repo, 1)
    repo.create_branch("feature")
    repo.delete_branch("feature")
    repo.create_branch("feature/x")  # its reflog must not collide with the deleted one's
    repo.checkout("feature/x")
    _commit(repo, 2)
    repo.checkout("main")
    repo.delete_branch("feature/x", force=True)
    repo.create_branch("feature")
    assert repo.fsck().ok


def test_branch_manager_resolves_refs_and_refuses_unknown_ones(repo: Repository) -> None:
    first = _commit(repo, 1)
    _commit(repo, 2)
    assert repo.branch_manager.create_branch("x", "main~1").commit_hash == first
    assert repo.branch_manager.create_branch("y", first[:6]).commit_hash == first
    with pytest.raises(RefNotFoundError):
        repo.branch_manager.create_branch("z", "f" * 32)
    assert [b.name for b in repo.branch_manager.list_branches()] == ["main", "x", "y"]


def test_names_that_look_like_commit_hashes_are_refused(repo: Repository) -> None:
    a = _commit(repo, 1)
    b = _commit(repo, 2)
    with pytest.raises(InvalidNameError, match="commit hash"):
        repo.tag_version(b, commit_ref=a)
    with pytest.raises(InvalidNameError, match="commit hash"):
        repo.create_branch(b, from_ref=a)
    assert repo.resolve_ref(b) == b
