"""Remotes end to end: push, pull, clone, sync over file://, S3 and MinIO-style URLs (a real
S3 endpoint on loopback: moto's server mode), carrying the whole history bit-exact, refusing
what would lose commits, and trusting nothing the remote says."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from coral.errors import (
    CoralError,
    InvalidValueError,
    NonFastForwardError,
    RemoteError,
    RemoteFormatError,
    RemoteNotFoundError,
)
from coral.remote import (
    BranchSync,
    LocalSide,
    MemoryBackend,
    PullResult,
    PushResult,
    SyncStatus,
    open_remote,
)
from coral.remote.keys import object_key
from coral.remote.pull import pull
from coral.remote.push import push
from coral.remote.status import sync, sync_status
from coral.remote.url import open_backend
from coral.version_control import Repository
from tests.conftest import FAKE_AWS_KEY_ID, FAKE_AWS_SECRET
from tests.helpers import assert_bit_exact
from tests.test_remote_backends import missing_remote_url


@pytest.fixture(params=["file", "s3", "minio"])
def remote_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return f"file://{tmp_path / 'shared-remote'}"
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    if request.param == "s3":
        return f"s3://{bucket}/team/coral?endpoint={endpoint}"
    return f"minio://{endpoint.removeprefix('http://')}/{bucket}/team/coral?secure=false"


def _every_dtype(rng: np.random.Generator) -> dict[str, np.ndarray]:
    nan_payload = np.array([0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001], np.uint32)
    return {
        "f32": rng.standard_normal((64, 32)).astype(np.float32),
        "f32.special": nan_payload.view(np.float32),  # NaN payloads, -0.0, a subnormal
        "f16": rng.standard_normal(100).astype(np.float16),
        "bf16": rng.standard_normal((16, 16)).astype(ml_dtypes.bfloat16),
        "f64": rng.standard_normal(50),
        "i8": rng.integers(-128, 127, 64, dtype=np.int8),
        "u64": rng.integers(0, 2**63, 8, dtype=np.uint64),
        "mask": rng.random(33) > 0.5,
    }


def _history(repo: Repository, rng: np.random.Generator) -> None:
    """main: 3 commits (deltas), a merge of "exp"; tags with metrics."""
    weights = _every_dtype(rng)
    repo.stage_weights(weights)
    repo.commit("init", metrics={"loss": 2.0})
    for step in range(2):
        weights["f32"] = weights["f32"] + np.float32(1e-3) * rng.standard_normal((64, 32)).astype(
            np.float32
        )
        repo.stage_weights({"f32": weights["f32"]}, partial=True)
        repo.commit(f"step {step}")
    repo.tag_version("v1", "after two steps", {"acc": 0.5})
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"f64": weights["f64"] * 2}, partial=True)
    repo.commit("exp: double f64")
    repo.checkout("main")
    repo.stage_weights({"i8": weights["i8"][::-1].copy()}, partial=True)
    repo.commit("main: flip i8")
    repo.merge("exp")
    repo.tag_version("v2", None, {"acc": 0.75})


def _assert_same_repository(a: Repository, b: Repository) -> None:
    assert {x.name: x.commit_hash for x in a.branch_manager.list_branches()} == {
        x.name: x.commit_hash for x in b.branch_manager.list_branches()
    }
    assert {(v.name, v.commit_hash, json.dumps(v.metrics)) for v in a.list_versions()} == {
        (v.name, v.commit_hash, json.dumps(v.metrics)) for v in b.list_versions()
    }
    commits = a.version_graph.commits()
    assert set(commits) == set(b.version_graph.commits())
    for commit_hash in commits:
        mine, theirs = a.get_all_weights(commit_hash), b.get_all_weights(commit_hash)
        assert mine.keys() == theirs.keys()
        for name in mine:
            assert_bit_exact(theirs[name].data, mine[name].data)
    assert b.fsck().ok


def _repo(tmp_path: Path, name: str, url: str | None = None) -> Repository:
    repo = Repository(tmp_path / name, init=True)
    if url is not None:
        repo.add_remote("origin", url)
    return repo


class Injected:
    """A remote in memory, handed to the transfer functions as a caller of ``open_remote``
    hands it: no URL names it, so tests can write keys no folder could hold."""

    def __init__(self) -> None:
        self.backend = MemoryBackend()

    def push(self, repo: Repository, **options: Any) -> PushResult:
        with open_remote("origin", "memory", backend=self.backend) as remote:
            return push(LocalSide.from_parts(repo.parts, repo.branch_manager), remote, **options)

    def pull(self, repo: Repository, **options: Any) -> PullResult:
        with open_remote("origin", "memory", backend=self.backend) as remote:
            return pull(LocalSide.from_parts(repo.parts, repo.branch_manager), remote, **options)

    def clone(self, path: Path) -> Repository:
        """What ``Repository.clone`` does: a new repository, then a pull."""
        repo = Repository(path, init=True)
        self.pull(repo)
        return repo


def test_push_then_clone_carries_the_whole_history_bit_exact(
    tmp_path: Path, remote_url: str, rng: np.random.Generator
) -> None:
    a = _repo(tmp_path, "a", remote_url)
    _history(a, rng)
    calls: list[tuple[int, int, int, str]] = []
    pushed = a.push("origin", progress_callback=lambda *args: calls.append(args))
    assert pushed["weights_pushed"] == len(calls) > 0
    assert [c[0] for c in calls] == list(range(1, len(calls) + 1))
    assert all(total == len(calls) for _, total, _, _ in calls)
    sent = [c[2] for c in calls]
    assert sent == sorted(sent) and 0 < sent[-1] < pushed["bytes_transferred"]  # + commits
    assert {c[3] for c in calls} <= set(a.store.object_ids())
    assert pushed["commits_pushed"] == len(a.version_graph.commits())
    assert set(pushed["branches_updated"]) == {"main", "exp"}
    assert sorted(pushed["tags_pushed"]) == ["v1", "v2"]

    b = Repository.clone(remote_url, tmp_path / "b")
    _assert_same_repository(a, b)
    assert b.current_branch == "main"
    assert b.list_remotes() == {"origin": a.list_remotes()["origin"]}
    assert b.resolve_ref("origin/exp") == a.resolve_ref("exp")

    again = a.push("origin")
    assert again["weights_pushed"] == 0 and again["bytes_transferred"] == 0
    again_pulled = b.pull("origin")
    assert again_pulled["weights_pulled"] == 0 and again_pulled["tags_pulled"] == []


def test_the_chapters_init_add_remote_pull_recipe_gives_a_complete_copy(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'backup'}"
    a = _repo(tmp_path, "a", url)
    _history(a, rng)
    a.push("origin")
    # As written in the chapter: initialise, add the remote, pull.
    repo = Repository(tmp_path / "cloned-repo", init=True)
    repo.add_remote("origin", url)
    result = repo.pull("origin")
    assert result["weights_pulled"] > 0 and result["commits_pulled"] == 6
    assert sorted(result["branches_created"]) == ["exp", "main"]
    _assert_same_repository(a, repo)


def test_an_incremental_push_sends_only_the_delta(
    tmp_path: Path, remote_url: str, rng: np.random.Generator
) -> None:
    a = _repo(tmp_path, "a", remote_url)
    big = rng.standard_normal((512, 512)).astype(np.float32)  # 1 MiB
    a.stage_weights({"big": big, "other": np.ones(1000, np.float32)})
    a.commit("base")
    a.push("origin")
    tuned = big + np.float32(1e-5) * rng.standard_normal(big.shape).astype(np.float32)
    a.stage_weights({"big": tuned})
    a.commit("one fine-tuning step")
    result = a.push("origin")
    assert result["weights_pushed"] == 1 and result["commits_pushed"] == 1
    assert result["bytes_transferred"] < 0.6 * big.nbytes  # a delta, not the tensor
    clone = Repository.clone(remote_url, tmp_path / "b")
    assert_bit_exact(clone.get_weight("big").data, tuned)


def test_a_push_that_would_drop_commits_is_refused_unless_forced(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    a.stage_weights({"w": np.zeros(4, np.float32)})
    a.commit("base")
    a.push("origin")
    b = Repository.clone(url, tmp_path / "b")
    b.stage_weights({"w": np.ones(4, np.float32)})
    theirs = b.commit("b's change")
    b.push("origin")
    a.stage_weights({"w": np.full(4, 2, np.float32)})
    mine = a.commit("a's change")
    with pytest.raises(NonFastForwardError, match="main") as refused:
        a.push("origin")
    assert "pull first" in str(refused.value)
    remote = open_backend(url)
    assert json.loads(remote.get("refs/heads/main", 1000).data)["commit_hash"] == theirs.commit_hash
    forced = a.push("origin", force=True)
    assert forced["branches_updated"] == {"main": mine.commit_hash}


def test_of_two_pushers_racing_for_one_branch_exactly_one_wins(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str
) -> None:
    url = f"s3://{s3_bucket}/race?endpoint={s3_endpoint}"
    base = _repo(tmp_path, "base", url)
    base.stage_weights({"w": np.zeros(1000, np.float32)})
    base.commit("base")
    base.push("origin")
    racers = [Repository.clone(url, tmp_path / f"r{i}") for i in range(2)]
    tips = []
    for i, repo in enumerate(racers):
        repo.stage_weights({"w": np.full(1000, i + 1, np.float32)})
        tips.append(repo.commit(f"racer {i}").commit_hash)
    barrier = threading.Barrier(2)
    outcome: dict[int, Any] = {}

    def race(i: int) -> None:
        barrier.wait()
        try:
            outcome[i] = racers[i].push("origin")
        except NonFastForwardError as err:
            outcome[i] = err

    threads = [threading.Thread(target=race, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for i, o in outcome.items() if isinstance(o, PushResult)]
    assert len(winners) == 1, outcome
    loser = 1 - winners[0]
    assert isinstance(outcome[loser], NonFastForwardError)
    on_remote = json.loads(open_backend(url).get("refs/heads/main", 1000).data)
    assert on_remote["commit_hash"] == tips[winners[0]]
    # The loser pulls (its main diverged), merges, and then pushes fine.
    pulled = racers[loser].pull("origin")
    assert "main" in pulled["diverged"]
    racers[loser].merge("origin/main", strategy="average")
    assert racers[loser].push("origin")["branches_updated"]


def test_pull_fast_forwards_creates_branches_and_reports_divergence(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    _history(a, rng)
    a.push("origin")
    b = Repository.clone(url, tmp_path / "b")
    a.stage_weights({"f64": np.zeros(50)})
    ahead = a.commit("a moves main")
    a.create_branch("new-from-a")
    a.push("origin")
    b.checkout("exp")
    b.stage_weights({"f16": np.zeros(100, np.float16)})
    b.commit("b moves exp")
    a.checkout("exp")
    a.stage_weights({"f16": np.ones(100, np.float16)})
    a.commit("a moves exp too")
    a.push("origin")
    result = b.pull("origin")
    assert result["branches_updated"]["main"] == ahead.commit_hash  # fast-forward
    assert result["branches_created"] == ["new-from-a"]
    assert set(result["diverged"]) == {"exp"}
    assert "merge" in result["diverged"]["exp"]
    assert b.resolve_ref("exp") != a.resolve_ref("exp")  # left alone
    forced = b.pull("origin", force=True)
    assert forced["branches_updated"]["exp"] == a.resolve_ref("exp")


def test_pull_does_not_move_a_checked_out_branch_with_staged_changes(tmp_path: Path) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    a.stage_weights({"w": np.zeros(4, np.float32)})
    a.commit("base")
    a.push("origin")
    b = Repository.clone(url, tmp_path / "b")
    a.stage_weights({"w": np.ones(4, np.float32)})
    a.commit("next")
    a.push("origin")
    b.stage_weights({"v": np.ones(2, np.float32)})
    before = b.resolve_ref("main")
    result = b.pull("origin")
    assert "staged changes" in result["diverged"]["main"]
    assert b.resolve_ref("main") == before
    assert b.resolve_ref("origin/main") == a.resolve_ref("main")


def test_sync_status_and_sync(tmp_path: Path, rng: np.random.Generator) -> None:
    url = f"file://{tmp_path / 'remote'}"
    (tmp_path / "remote").mkdir()  # an empty folder: an empty remote
    a = _repo(tmp_path, "a", url)
    empty = a.get_sync_status("origin")
    assert empty["needs_push"] == 0 and empty["is_synced"]
    _history(a, rng)
    before = a.get_sync_status("origin")
    assert before["needs_push"] > 0 and before["needs_pull"] == 0 and not before["is_synced"]
    assert before["branches"]["main"]["remote"] is None
    a.push("origin")
    assert a.get_sync_status("origin")["is_synced"]
    b = Repository.clone(url, tmp_path / "b")
    b.stage_weights({"f64": np.ones(50)})
    b.commit("b ahead")
    b.push("origin")
    status = a.get_sync_status("origin")
    assert status["needs_pull"] == 1 and status["commits_behind"] == 1
    assert status["branches"]["main"]["behind"] is None  # not fetched yet: unknown
    synced = a.sync("origin")
    assert synced["total_pulled"] == 1 and synced["is_synced"]
    assert set(synced) == {"push", "pull", "total_pushed", "total_pulled", "is_synced"}
    assert a.get_sync_status("origin")["branches"]["main"] == {
        "local": b.resolve_ref("main"),
        "remote": b.resolve_ref("main"),
        "ahead": 0,
        "behind": 0,
    }
    assert a.incremental_push("origin")["weights_pushed"] == 0
    assert a.incremental_pull("origin")["weights_pulled"] == 0


def test_a_handed_in_backend_is_pushed_to_pulled_from_and_cloned_without_a_url(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    remote = Injected()
    a = _pushed(tmp_path, remote, rng)
    assert a.list_remotes() == {}  # nothing configured, no URL looked up
    b = remote.clone(tmp_path / "b")
    _assert_same_repository(a, b)
    assert b.current_branch == "main" and b.resolve_ref("origin/main") == a.resolve_ref("main")
    b.stage_weights({"f64": np.ones(50)}, partial=True)
    b.commit("b ahead")
    assert remote.push(b)["weights_pushed"] == 1  # the backend outlived the earlier remotes
    local = LocalSide.from_parts(a.parts, a.branch_manager)
    with open_remote("origin", "not a URL: a label", backend=remote.backend) as there:
        before = sync_status(local, there)
        assert before["needs_pull"] == 1 and before["commits_behind"] == 1
        synced = sync(local, there)
        assert synced.total_pulled == 1 and synced.is_synced and synced.push.rejected == {}
    assert a.resolve_ref("main") == b.resolve_ref("main")


def test_transfer_results_are_typed_and_read_as_the_chapters_dicts(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    remote = Injected()
    a = _repo(tmp_path, "a")
    _history(a, rng)
    pushed = remote.push(a)
    assert isinstance(pushed, PushResult) and pushed["weights_pushed"] == pushed.weights_pushed
    assert list(pushed) == [
        "weights_pushed",
        "bytes_transferred",
        "skipped",
        "commits_pushed",
        "branches_updated",
        "tags_pushed",
        "rejected",
    ]
    as_dict = dict(pushed)
    assert pushed == as_dict and as_dict == pushed and pushed.as_dict() == as_dict
    assert "skipped" in pushed and "diverged" not in pushed and pushed.get("nope") is None
    with pytest.raises(KeyError):
        pushed["objects_moved"]  # a property, not one of the chapter's keys
    with pytest.raises(AttributeError):
        pushed.skipped = 3  # type: ignore[misc]
    assert str(pushed).startswith(f"{pushed.weights_pushed} weight object(s) pushed, ")
    pulled = remote.pull(_repo(tmp_path, "b"))
    assert isinstance(pulled, PullResult) and pulled["diverged"] == {}
    assert str(pulled).endswith(f"{pulled.commits_pulled} commit(s); 0 already there")
    a.checkout("exp")
    a.reset("HEAD~1")  # exp no longer contains the remote's exp
    with pytest.raises(NonFastForwardError) as refused:
        remote.push(a)
    assert isinstance(refused.value.result, PushResult)
    assert set(refused.value.result["rejected"]) == {"exp"}
    local = LocalSide.from_parts(a.parts, a.branch_manager)
    with open_remote("origin", "memory", backend=remote.backend) as there:
        status = sync_status(local, there)
    assert isinstance(status, SyncStatus) and isinstance(status.branches["exp"], BranchSync)
    assert status["branches"]["main"] == {
        "local": a.resolve_ref("main"),
        "remote": a.resolve_ref("main"),
        "ahead": 0,
        "behind": 0,
    }
    assert json.loads(json.dumps(status.as_dict()))["branches"]["exp"]["behind"] == 1


def test_each_url_scheme_opens_its_backend_and_an_unknown_one_lists_the_known(
    tmp_path: Path,
) -> None:
    from coral.remote.file import FileBackend
    from coral.remote.s3 import S3Backend
    from coral.remote.url import SCHEMES

    assert list(SCHEMES) == ["file", "s3", "minio"]
    folder = open_backend(f"file://{tmp_path}/r")
    assert isinstance(folder, FileBackend) and folder.root == tmp_path / "r"
    minio = open_backend("minio://localhost:9000/models/team?secure=false")
    assert isinstance(minio, S3Backend) and minio.spec.endpoint == "http://localhost:9000"
    assert (minio.spec.bucket, minio.spec.prefix) == ("models", "team")
    minio.close()
    for url in ["memory://shared/x", "gs://bucket/x", "bucket/x"]:
        with pytest.raises(InvalidValueError) as refused:
            open_backend(url)
        assert str(refused.value) == (
            f"unsupported remote URL {url!r}: use file:///path, s3://bucket/prefix or "
            "minio://host[:port]/bucket/prefix"
        )


def test_a_remote_tensor_can_be_read_without_pulling_the_rest(
    tmp_path: Path, remote_url: str, rng: np.random.Generator
) -> None:
    a = _repo(tmp_path, "a", remote_url)
    _history(a, rng)
    a.push("origin")
    b = _repo(tmp_path, "b", remote_url)
    weight = b.get_weight("f32", "v1", remote="origin")
    assert_bit_exact(weight.data, a.get_weight("f32", "v1").data)
    fetched = set(b.store.object_ids())
    oid = a.get_commit("v1").weight_hashes["f32"]
    chain = {oid}
    frontier = [oid]
    while frontier:
        bases = a.store.info(frontier.pop()).bases
        chain.update(bases)
        frontier.extend(bases)
    assert fetched == chain  # that tensor and its delta bases, nothing else
    assert b.version_graph.commits() == {}  # no history was pulled
    with pytest.raises(KeyError, match="no weight"):
        b.get_weight("nope", "main", remote="origin")


def _pushed(tmp_path: Path, to: str | Injected, rng: np.random.Generator) -> Repository:
    """A repository with :func:`_history`, pushed to the remote at ``to``."""
    a = _repo(tmp_path, "a", to if isinstance(to, str) else None)
    _history(a, rng)
    if isinstance(to, str):
        a.push("origin")
    else:
        to.push(a)
    return a


def _pull_is_refused(
    tmp_path: Path, source: str | Injected, error: type[Exception], match: str
) -> None:
    """A fresh repository pulling from ``source`` gets ``error`` and is left with nothing."""
    b = _repo(tmp_path, "b", source if isinstance(source, str) else None)
    with pytest.raises(error, match=match):
        if isinstance(source, str):
            b.pull("origin")
        else:
            source.pull(b)
    _untouched(b)


def _untouched(repo: Repository) -> None:
    assert list(repo.store.object_ids()) == []
    assert repo.version_graph.commits() == {}
    assert repo.branch_manager.list_branches() == []
    assert repo.fsck().ok


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing", "other-header"])
def test_damaged_remote_objects_are_refused_and_nothing_is_installed(
    tmp_path: Path, damage: str, s3_endpoint: str, s3_bucket: str, rng: np.random.Generator
) -> None:
    url = f"s3://{s3_bucket}/t?endpoint={s3_endpoint}"
    a = _pushed(tmp_path, url, rng)
    victim = a.get_commit("main~2").weight_hashes["f32"]
    backend = open_backend(url)
    key = object_key(victim)
    blob = bytearray(backend.get(key, 1 << 30).data)
    if damage == "flip":
        blob[-7] ^= 0x10
        backend.put(key, bytes(blob))
    elif damage == "truncate":
        backend.put(key, bytes(blob[:-100]))
    elif damage == "missing":
        backend.delete_if(key, etag=backend.get(key, 1 << 30).etag)
    else:
        other = a.get_commit("main~2").weight_hashes["f64"]
        backend.put(key, backend.get(object_key(other), 1 << 30).data)
    _pull_is_refused(tmp_path, url, RemoteFormatError, victim)


def test_names_from_the_remote_that_try_to_escape_are_refused(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    remote = Injected()  # holds keys such as "refs/heads/../../../outside" as S3 would
    a = _pushed(tmp_path, remote, rng)
    backend = remote.backend
    ref = json.dumps({"commit_hash": a.resolve_ref("main")}).encode()
    hostile = ["../../../outside", "a..b", ".hidden", "x.lock", "-opt", "ok/../../up", "@{u}"]
    for name in hostile:
        backend.put(f"refs/heads/{name}", ref)
    backend.put("refs/heads/" + "n" * 5000, ref)
    tag = json.loads(backend.get("tags/v1.json", 1 << 20).data)
    backend.put("tags/../../evil.json", json.dumps({**tag, "name": "../../evil"}).encode())
    backend.put("tags/fake.json", json.dumps({**tag, "name": "real"}).encode())
    b = _repo(tmp_path, "b")
    result = remote.pull(b)
    assert len(result["rejected"]) == len(hostile) + 3
    assert "refs/heads/../../../outside" in result["rejected"]
    assert sorted(x.name for x in b.branch_manager.list_branches()) == ["exp", "main"]
    assert sorted(v.name for v in b.list_versions()) == ["v1", "v2"]
    outside = {p.name for p in tmp_path.iterdir()}
    assert outside == {"a", "b"}
    assert b.fsck().ok


def test_oversized_files_are_refused_before_they_are_read(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _pushed(tmp_path, url, rng)
    backend = open_backend(url)
    head = a.resolve_ref("main")
    backend.put(f"commits/{head}.json", b" " * (17 << 20))
    _pull_is_refused(tmp_path, url, RemoteError, "larger than")


def test_credentials_never_reach_the_repository(
    tmp_path: Path, s3_endpoint: str, s3_bucket: str, rng: np.random.Generator
) -> None:
    url = f"s3://{s3_bucket}/secret-test?endpoint={s3_endpoint}&region=us-east-1"
    a = _pushed(tmp_path, url, rng)
    Repository.clone(url, tmp_path / "b").pull("origin")
    for repo in ("a", "b"):
        for path in (tmp_path / repo / ".coral").rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert FAKE_AWS_KEY_ID.encode() not in data, path
                assert FAKE_AWS_SECRET.encode() not in data, path
    assert a.list_remotes()["origin"] == {
        "url": url,
        "backend": "s3",
        "endpoint": s3_endpoint,
        "region": "us-east-1",
    }


def test_credentials_never_reach_reprs_logs_or_widget_output(
    tmp_path: Path,
    s3_endpoint: str,
    s3_bucket: str,
    rng: np.random.Generator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """#10 row 18: with the keys in the environment, nothing shown to a user holds them."""
    from coral_jupyter.display.transfer import RemoteList, TransferReport

    caplog.set_level("DEBUG")
    url = f"s3://{s3_bucket}/shown?endpoint={s3_endpoint}&region=us-east-1"
    a = _pushed(tmp_path, url, rng)
    pushed = a.push("origin")
    b = Repository.clone(url, tmp_path / "b")
    pulled = b.pull("origin")
    status = b.get_sync_status("origin")
    with pytest.raises(CoralError) as refused:
        Repository(tmp_path / "b").add_remote("x", "s3://AKIA:secret@bucket/x")
    shown = [
        repr(a),
        repr(b),
        str(pushed),
        str(pulled),
        str(status),
        str(refused.value),
        repr(RemoteList(b.list_remotes())),
        RemoteList(b.list_remotes())._repr_html_(),
        repr(TransferReport("pull", {"pull": pulled})),
        TransferReport("push", {"push": pushed})._repr_html_(),
        # Coral's own log records (botocore's DEBUG logging of signed requests is its own)
        "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("coral")),
    ]
    for text in shown:
        assert FAKE_AWS_KEY_ID not in text and FAKE_AWS_SECRET not in text
        assert "secret@" not in text


def test_a_url_with_credentials_or_errors_is_refused(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "a")
    bad = {
        "s3://AKIA:secret@bucket/x": "never carry credentials",
        "ftp://host/x": "unsupported remote URL",
        # The memory backend is handed in (open_remote), never named by a URL.
        "memory://shared/x": "use file:///path, s3://bucket/prefix or minio://",
        "s3://B/x": "not a valid bucket name",
        "file://relative/path": "three slashes",
        "s3://bucket-ok/x?token=abc": "unknown option",
        "s3://bucket-ok/../x": "cannot contain",
    }
    for url, message in bad.items():
        with pytest.raises(InvalidValueError, match=message):
            repo.add_remote("origin", url)
    assert repo.list_remotes() == {}
    with pytest.raises(RemoteNotFoundError, match="add one with"):
        repo.push("origin")
    with pytest.raises(ValueError, match="remote name"):
        repo.add_remote("a/b", f"file://{tmp_path}/r")


def test_add_list_remove_remotes_as_in_the_chapter(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "a")
    repo.add_remote(name="origin", url="s3://my-bucket/coral-models/")
    repo.add_remote(name="backup", url="minio://minio.example.com/models/")
    repo.add_remote(name="local-backup", url=f"file://{tmp_path}/backup/coral-repo")
    remotes = repo.list_remotes()
    lines = [f"{name}: {config['url']} ({config['backend']})" for name, config in remotes.items()]
    assert lines == [
        "backup: minio://minio.example.com/models/ (minio)",
        f"local-backup: file://{tmp_path}/backup/coral-repo (file)",
        "origin: s3://my-bucket/coral-models/ (s3)",
    ]
    assert remotes["backup"]["endpoint"] == "https://minio.example.com"
    with pytest.raises(RemoteError, match="exists"):
        repo.add_remote("origin", "s3://other-bucket/x")
    repo.remove_remote("backup")
    assert set(repo.list_remotes()) == {"origin", "local-backup"}
    with pytest.raises(RemoteNotFoundError):
        repo.remove_remote("backup")


def test_pulling_from_an_empty_remote_does_nothing_and_a_foreign_one_is_refused(
    tmp_path: Path,
) -> None:
    (tmp_path / "empty").mkdir()
    repo = _repo(tmp_path, "a", f"file://{tmp_path / 'empty'}")
    assert repo.pull("origin")["weights_pulled"] == 0
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not coral")
    repo.add_remote("foreign", f"file://{foreign}")
    with pytest.raises(RemoteFormatError, match="not a Coral remote"):
        repo.pull("foreign")


def test_push_of_one_branch_leaves_the_others(tmp_path: Path, rng: np.random.Generator) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    _history(a, rng)
    result = a.push("origin", branch="exp")
    assert set(result["branches_updated"]) == {"exp"}
    assert result["tags_pushed"] == ["v1"]  # v2 is on main's merge, not on exp
    b = Repository.clone(url, tmp_path / "b")
    assert [x.name for x in b.branch_manager.list_branches()] == ["exp"]
    assert b.current_branch == "exp"


_KILL_AFTER = """
import os, sys
from coral.version_control import Repository

repo = Repository(sys.argv[1])
after = int(sys.argv[3])

def die(current, total, sent, oid):
    if current >= after:
        os._exit(9)  # as abrupt as SIGKILL: no cleanup, no finally

getattr(repo, sys.argv[2])("origin", progress_callback=die, jobs=1)
"""


def _run_killed(repo: Path, operation: str, after: int) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _KILL_AFTER, str(repo), operation, str(after)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 9, done.stderr


@pytest.mark.slow
def test_a_push_killed_midway_resumes_and_the_ref_never_ran_ahead(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'remote'}"
    (tmp_path / "remote").mkdir()
    a = _repo(tmp_path, "a", url)
    _history(a, rng)
    total = a.get_sync_status("origin")["needs_push"]
    _run_killed(a.path, "push", after=3)
    backend = open_backend(url)
    assert list(backend.list("refs/heads/")) == []  # no ref points at a partial history
    assert len(list(backend.list("objects/"))) == 3
    resumed = a.push("origin")
    assert resumed["weights_pushed"] == total - 3  # only what was still missing
    _assert_same_repository(a, Repository.clone(url, tmp_path / "b"))


@pytest.mark.slow
def test_a_pull_killed_midway_leaves_a_clean_repository_and_resumes(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _pushed(tmp_path, url, rng)
    b = _repo(tmp_path, "b", url)
    _run_killed(b.path, "pull", after=4)
    reopened = Repository(b.path)
    _untouched(reopened)
    assert reopened.pull("origin")["commits_pulled"] == len(a.version_graph.commits())
    _assert_same_repository(a, reopened)


def test_the_chapters_remote_examples_run_as_written(
    tmp_path: Path, rng: np.random.Generator, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, "project")
    _history(repo, rng)
    repo.add_remote(name="origin", url=f"file://{tmp_path}/team-remote")

    def progress_callback(current, total, bytes_transferred, hash_key):  # type: ignore[no-untyped-def]
        print(f"Pushing {current}/{total}: {hash_key[:8]} ({bytes_transferred} bytes)")

    result = repo.push(
        remote_name="origin",
        force=False,  # Don't overwrite existing weights
        progress_callback=progress_callback,
    )
    print(f"Pushed: {result['weights_pushed']} weights")
    print(f"Transferred: {result['bytes_transferred']} bytes")
    print(f"Skipped: {result['skipped']} (already on remote)")

    result = repo.pull(
        remote_name="origin",
        force=False,  # Don't overwrite local weights
        progress_callback=progress_callback,
    )
    print(f"Pulled: {result['weights_pulled']} weights")
    print(f"Transferred: {result['bytes_transferred']} bytes")

    result = repo.sync(remote_name="origin", progress_callback=progress_callback)
    print("Push results:", result["push"])
    print("Pull results:", result["pull"])
    print(f"Total pushed: {result['total_pushed']}")
    print(f"Total pulled: {result['total_pulled']}")
    print(f"Synced: {result['is_synced']}")

    status = repo.get_sync_status("origin")
    print(f"Local-only weights: {status['needs_push']}")
    print(f"Remote-only weights: {status['needs_pull']}")
    print(f"Synchronized: {status['is_synced']}")

    push_result = repo.incremental_push("origin")
    print(f"Incremental push: {push_result['weights_pushed']} new weights")
    pull_result = repo.incremental_pull("origin")
    print(f"Incremental pull: {pull_result['weights_pulled']} new weights")

    out = capsys.readouterr().out
    pushed = result["push"]
    assert "Pushing 1/" in out and f"Pushed: {len(out.split('Pushing ')) - 1} weights" in out
    assert "Synced: True" in out and "Local-only weights: 0" in out
    assert "Incremental push: 0 new weights" in out and pushed["weights_pushed"] == 0


def test_a_commit_with_malformed_object_ids_is_refused(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    from coral.records.commit import hash_content

    remote = Injected()
    a = _pushed(tmp_path, remote, rng)
    backend = remote.backend
    head = a.get_commit("main")
    data = head.to_dict()
    data["weight_hashes"] = {**data["weight_hashes"], "f32": "../../../../etc/passwd"}
    content = {
        k: data[k]
        for k in ("parent_hashes", "weight_hashes", "metadata", "delta_weights", "weight_metadata")
    }
    forged = hash_content(content)  # a consistent hash: only the IDs inside are wrong
    data["commit_hash"] = forged
    backend.put(f"commits/{forged}.json", json.dumps(data).encode())
    backend.put("refs/heads/forged", json.dumps({"commit_hash": forged}).encode())
    _pull_is_refused(tmp_path, remote, RemoteFormatError, "names malformed objects")


def test_fsck_names_a_damaged_remote_tracking_ref(tmp_path: Path, rng: np.random.Generator) -> None:
    url = f"file://{tmp_path / 'remote'}"
    _pushed(tmp_path, url, rng)
    b = Repository.clone(url, tmp_path / "b")
    assert b.fsck().ok
    ref = b.coral_dir / "refs" / "remotes" / "origin" / "exp"
    ref.write_text('{"commit_hash": "' + "0" * 32 + '"}')
    report = b.fsck()
    assert not report.ok and any("origin/exp" in str(issue) for issue in report.errors)
    assert "pull from 'origin' again" in str(report)
    b.pull("origin")  # which repairs it
    assert b.fsck().ok


def test_a_push_killed_while_sending_commits_is_completed_by_the_next(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coral.remote.remote import Remote

    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    _history(a, rng)
    real = Remote.put_commit
    sent: list[str] = []

    def dies_after_one(self: Remote, commit: Any) -> int:
        if sent:
            raise KeyboardInterrupt  # the process "dies" with one commit file on the remote
        sent.append(commit.commit_hash)
        return real(self, commit)

    monkeypatch.setattr(Remote, "put_commit", dies_after_one)
    with pytest.raises(KeyboardInterrupt):
        a.push("origin", jobs=1)
    monkeypatch.setattr(Remote, "put_commit", real)
    assert len(sent) == 1
    a.push("origin")
    _assert_same_repository(a, Repository.clone(url, tmp_path / "b"))


def test_credentials_in_an_endpoint_are_refused_too(tmp_path: Path) -> None:
    repo = _repo(tmp_path, "a")
    with pytest.raises(InvalidValueError, match="never carry credentials"):
        repo.add_remote("x", "s3://bucket-ok/p?endpoint=https://AKIA:secret@s3.example.com")
    with pytest.raises(InvalidValueError, match="http"):
        repo.add_remote("x", "s3://bucket-ok/p?endpoint=ftp://s3.example.com")
    assert repo.list_remotes() == {}


def test_hostile_codec_parameters_fail_fast_and_install_nothing(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    from coral.remote import wire

    remote = Injected()
    a = _repo(tmp_path, "a")
    a.stage_weights({"big": np.zeros((1024, 1024), np.uint8)})  # compresses to ~nothing
    a.commit("zeros")
    remote.push(a)
    oid = a.get_commit("main").weight_hashes["big"]
    backend = remote.backend
    blob = backend.get(object_key(oid), 1 << 30).data
    header_end = (
        len(wire.MAGIC) + 4 + int.from_bytes(blob[len(wire.MAGIC) : len(wire.MAGIC) + 4], "little")
    )
    header = json.loads(blob[len(wire.MAGIC) + 4 : header_end])
    header["params"]["chunk"] = 1  # a million one-byte blocks
    raw = json.dumps(header).encode()
    backend.put(
        object_key(oid), wire.MAGIC + len(raw).to_bytes(4, "little") + raw + blob[header_end:]
    )
    _pull_is_refused(tmp_path, remote, RemoteFormatError, oid)


def test_a_malformed_tag_is_rejected_and_the_pull_goes_on(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    remote = Injected()
    a = _pushed(tmp_path, remote, rng)
    backend = remote.backend
    backend.put("tags/listy.json", b"[1, 2, 3]")
    tag = json.loads(backend.get("tags/v1.json", 1 << 20).data)
    backend.put(
        "tags/nan.json", json.dumps({**tag, "name": "nan", "metrics": {"x": "high"}}).encode()
    )
    b = _repo(tmp_path, "b")
    result = remote.pull(b)
    assert set(result["rejected"]) == {"tags/listy.json", "tags/nan.json"}
    assert sorted(v.name for v in b.list_versions()) == ["v1", "v2"]
    _assert_same_repository(a, b)


def test_branch_names_that_are_folders_of_each_other(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    remote = Injected()  # holds both 'dev' and 'dev/x' below, as S3 does
    a = _pushed(tmp_path, remote, rng)
    a.create_branch("feature/x")
    remote.push(a)
    b = remote.clone(tmp_path / "b")
    a.delete_branch("feature/x", force=True)
    backend = remote.backend
    backend.delete_if("refs/heads/feature/x", etag=backend.get("refs/heads/feature/x", 99).etag)
    a.create_branch("feature")
    remote.push(a)
    first = remote.pull(b)  # origin/feature/x goes, origin/feature comes
    assert b.resolve_ref("origin/feature") == a.resolve_ref("feature")
    # b still has its own branch feature/x (the clone made it): no local 'feature' then.
    assert "feature/x" in first["rejected"]["refs/heads/feature"]
    # A remote holding both 'dev' and 'dev/x' (S3 allows it): one is refused, the rest pulled.
    ref = json.dumps({"commit_hash": a.resolve_ref("main")}).encode()
    backend.put("refs/heads/dev", ref)
    backend.put("refs/heads/dev/x", ref)
    result = remote.pull(b)
    assert sorted(result["rejected"]) == ["refs/heads/dev/x", "refs/heads/feature"]
    assert b.resolve_ref("dev") == a.resolve_ref("main")
    assert b.fsck().ok


def test_clone_checks_out_the_remotes_default_branch(
    tmp_path: Path, rng: np.random.Generator
) -> None:
    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    _history(a, rng)
    a.checkout("exp")
    a.push("origin")  # the first push sets the remote's HEAD to the pusher's branch
    b = Repository.clone(url, tmp_path / "b")
    assert b.current_branch == "exp"
    c = _repo(tmp_path, "c", url)
    weight = c.get_weight("f64", remote="origin")  # the remote's default branch
    assert_bit_exact(weight.data, a.get_weight("f64", "exp").data)


def test_a_failed_clone_leaves_nothing_behind(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not coral")
    with pytest.raises(RemoteFormatError):
        Repository.clone(f"file://{foreign}", tmp_path / "new")
    assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "mine.txt").write_text("user file")
    with pytest.raises(RemoteFormatError):
        Repository.clone(f"file://{foreign}", tmp_path / "kept")
    assert [p.name for p in (tmp_path / "kept").iterdir()] == ["mine.txt"]


# --- a remote whose folder or bucket does not exist ---


@pytest.fixture(params=["file", "s3", "minio"])
def missing_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return missing_remote_url(request.param, request, tmp_path)


def _names(url: str) -> str:
    return re.escape(f"no remote at {url}")


def test_clone_of_a_missing_folder_or_bucket_raises_and_leaves_nothing(
    tmp_path: Path, missing_url: str
) -> None:
    with pytest.raises(RemoteNotFoundError, match=_names(missing_url)) as raised:
        Repository.clone(missing_url, tmp_path / "new" / "copy")
    assert isinstance(raised.value, FileNotFoundError)
    assert list(tmp_path.iterdir()) == []  # no copy, nor the folder made on the way to it


def test_pull_sync_and_status_of_a_missing_remote_raise_and_change_nothing(
    tmp_path: Path, missing_url: str
) -> None:
    repo = _repo(tmp_path, "a", missing_url)
    repo.stage_weights({"w": np.zeros(4, np.float32)})
    head = repo.commit("base").commit_hash
    calls = [
        repo.pull,
        repo.sync,  # pulls first: nothing is pushed to a typo
        repo.get_sync_status,
        lambda name: repo.get_weight("w", "main", remote=name),  # one weight, read remotely
    ]
    for call in calls:
        with pytest.raises(RemoteNotFoundError, match=_names(missing_url)):
            call("origin")
    assert repo.resolve_ref("main") == head and repo.list_remotes().keys() == {"origin"}
    assert [p.name for p in tmp_path.iterdir()] == ["a"]  # no folder created at the typo


def test_a_push_creates_a_missing_folder_but_not_a_missing_bucket(
    tmp_path: Path, missing_url: str
) -> None:
    repo = _repo(tmp_path, "a", missing_url)
    repo.stage_weights({"w": np.arange(4, dtype=np.float32)})
    head = repo.commit("base").commit_hash
    if missing_url.startswith("file://"):
        assert repo.push("origin")["branches_updated"] == {"main": head}
        assert Repository.clone(missing_url, tmp_path / "b").resolve_ref("main") == head
        return
    with pytest.raises(RemoteNotFoundError, match=_names(missing_url)) as raised:
        repo.push("origin")
    assert "create the bucket first" in str(raised.value)


def test_coral_clone_of_a_missing_folder_prints_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from coral.cli.app import main
    from coral.cli.output import Output

    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # paths are relative to -C, not to where coral runs

    def clone(url: str) -> tuple[int, list[str]]:
        err = io.StringIO()
        code = main(["-C", str(work), "clone", url, "copy"], Output(io.StringIO(), err))
        return code, err.getvalue().splitlines()

    typo = f"file://{tmp_path / 'typo'}"
    assert clone(typo) == (
        1,
        [
            f"error: no remote at {typo}: the folder {tmp_path / 'typo'} does not exist "
            "(check the URL; a push creates it)"
        ],
    )
    assert list(work.iterdir()) == [] and list(elsewhere.iterdir()) == []
    (tmp_path / "empty").mkdir()  # an existing empty folder is an empty remote: it clones
    assert clone(f"file://{tmp_path / 'empty'}") == (0, [])
    assert (work / "copy" / ".coral").is_dir() and list(elsewhere.iterdir()) == []


def test_the_clone_magic_of_a_missing_folder_fails_in_one_line_and_keeps_the_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("IPython")
    from tests.jupyter_helpers import Shell

    monkeypatch.chdir(tmp_path)
    shell = Shell()
    try:
        shell.run("%coral init work")
        url = f"file://{tmp_path / 'typo'}"
        message = shell.usage_error(f"%coral clone {url} {tmp_path / 'copy'}")
        assert message.startswith(f"no remote at {url}: ")
        assert shell.session.repo.path == (tmp_path / "work").resolve()
        assert [p.name for p in tmp_path.iterdir()] == ["work"]
    finally:
        shell.ip.reset()


# --- a name is a branch or a tag, never both ---


def _shared(tmp_path: Path) -> tuple[Repository, Repository]:
    """``a`` pushed one commit to a folder remote; ``b`` is its clone."""
    url = f"file://{tmp_path / 'remote'}"
    a = _repo(tmp_path, "a", url)
    a.stage_weights({"w": np.zeros(4, np.float32)})
    a.commit("base")
    a.push("origin")
    return a, Repository.clone(url, tmp_path / "b")


def test_a_pulled_tag_named_like_a_local_branch_is_rejected_and_not_installed(
    tmp_path: Path,
) -> None:
    a, b = _shared(tmp_path)
    b.create_branch("exp")
    a.stage_weights({"w": np.ones(4, np.float32)})
    a.commit("next")
    a.tag_version("exp", "a tag on a's main")
    a.push("origin")
    for force in (False, True):  # force takes the remote's tags, never over a branch
        result = b.pull("origin", force=force)
        assert "is a local branch" in result["rejected"]["tag exp"]
        assert result["tags_pulled"] == []
        assert b.list_versions() == []
        assert b.resolve_ref("exp") == b.branch_manager.get_branch("exp").commit_hash
    assert b.resolve_ref("main") == a.resolve_ref("main")  # the rest was pulled


def test_a_pulled_branch_named_like_a_local_tag_is_rejected_and_not_created(
    tmp_path: Path,
) -> None:
    a, b = _shared(tmp_path)
    mine = b.tag_version("exp").commit_hash
    a.create_branch("exp")
    a.checkout("exp")
    a.stage_weights({"w": np.ones(4, np.float32)})
    a.commit("on exp")
    a.push("origin")
    result = b.pull("origin")
    assert "is already a tag" in result["rejected"]["refs/heads/exp"]
    assert result["branches_created"] == []
    assert not b.branch_manager.has_branch("exp")
    assert b.resolve_ref("exp") == mine
    assert b.resolve_ref("origin/exp") == a.resolve_ref("exp")  # still readable, and mergeable


def test_a_name_the_remote_has_as_both_a_branch_and_a_tag_is_taken_as_neither(
    tmp_path: Path,
) -> None:
    a, _ = _shared(tmp_path)
    a.create_branch("exp")
    a.tag_version("v1")
    a.push("origin")
    backend = open_backend(a.list_remotes()["origin"]["url"])
    tag = json.loads(backend.get("tags/v1.json", 1 << 20).data)
    backend.put("tags/exp.json", json.dumps({**tag, "name": "exp"}).encode())  # as S3 allows
    c = _repo(tmp_path, "c", a.list_remotes()["origin"]["url"])
    result = c.pull("origin")
    assert "both a branch and a tag" in result["rejected"]["refs/heads/exp"]
    assert "both a branch and a tag" in result["rejected"]["tag exp"]
    assert [x.name for x in c.branch_manager.list_branches()] == ["main"]
    assert [v.name for v in c.list_versions()] == ["v1"]
    assert c.resolve_ref("origin/exp") == a.resolve_ref("exp")


def test_the_branch_manager_refuses_a_tags_name_as_create_branch_does(repo: Repository) -> None:
    repo.stage_weights({"w": np.zeros(2, np.float32)})
    repo.commit("base")
    repo.tag_version("v1")
    with pytest.raises(InvalidValueError) as via_repo:
        repo.create_branch("v1")
    with pytest.raises(InvalidValueError) as via_manager:
        repo.branch_manager.create_branch("v1", "HEAD")
    assert str(via_manager.value) == str(via_repo.value)
    assert not repo.branch_manager.has_branch("v1")
