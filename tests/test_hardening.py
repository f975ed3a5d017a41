"""Hostile and damaged input (issue #10 rows 3, 4, 5, 7, 11, 12, 13, 15, 16, 17, and the fuzz
targets): every case ends in one clear Coral error, or a clean result, and never in a crash,
an allocation sized by an attacker, or a file outside ``.coral``."""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coral.errors import (
    CoralError,
    CorruptObjectError,
    InvalidNameError,
    InvalidTypeError,
    InvalidWeightError,
    LockOrderError,
    LockTimeoutError,
    RepositoryFormatError,
    WeightTypeError,
    WriteFailedError,
)
from coral.records.commits import CommitStore
from coral.storage.fsutil import loads_json
from coral.storage.locking import RepositoryLock
from coral.storage.validation import checked_info
from coral.version_control import Repository
from tests.helpers import assert_bit_exact

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def _weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    return {
        "a": rng.standard_normal(3000).astype(np.float32),
        "b": np.arange(500, dtype=np.int64),
        "c": rng.standard_normal((40, 40)).astype(np.float16),
    }


def _in_subprocess(function: str, *args: object) -> subprocess.CompletedProcess[str]:
    """Run ``function(*args)`` of this module in a fresh interpreter (a segfault or a hang
    would show as its exit code or a timeout); it must exit 0."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        f"from tests.test_hardening import {function}; {function}(*{args!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _pack(repo: Repository) -> Path:
    (pack,) = sorted((repo.coral_dir / "objects" / "packs").glob("*.h5"))
    return pack


# --- row 3: damaged pack files, read in a subprocess (a segfault would be its exit code) ---


def _mutation_campaign(path: str, seed: int, rounds: int) -> None:
    """Damage the pack ``rounds`` times (truncate, zero-fill, flip bytes; with or without
    its index); each time open, fsck and read everything. Exit 1 on anything but a clean
    read or a CoralError; print what happened."""
    from coral.storage import pack_reader

    pack_reader.PARSE_TIMEOUT = 2.0  # a few mutations make libhdf5 loop forever: kill sooner
    repo_dir = Path(path)
    expected = _weights()
    pack = next((repo_dir / ".coral" / "objects" / "packs").glob("*.h5"))
    sidecar = pack.with_name(pack.stem + ".idx.json")
    pristine, pristine_index = pack.read_bytes(), sidecar.read_bytes()
    rng = random.Random(seed)
    outcomes = {"clean": 0, "refused": 0, "fsck_named": 0, "hdf5_hung": 0}
    for _ in range(rounds):
        data = bytearray(pristine)
        kind = rng.choice(["truncate", "zero", "flip"])
        if kind == "truncate":
            del data[rng.randrange(len(data)) :]
        elif kind == "zero":
            start, length = rng.randrange(len(data)), rng.randrange(1, 4096)
            data[start : start + length] = bytes(len(data[start : start + length]))
        else:
            for _ in range(rng.randrange(1, 16)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        pack.write_bytes(bytes(data))
        if rng.random() < 0.5:
            sidecar.unlink(missing_ok=True)
        else:
            sidecar.write_bytes(pristine_index)
        repo = Repository(repo_dir)
        report = repo.fsck()
        outcomes["fsck_named"] += not report.ok
        outcomes["hdf5_hung"] += "did not finish" in str(report)
        for name, array in expected.items():
            try:
                got = repo.get_weight(name).data
            except CoralError:
                outcomes["refused"] += 1
                continue
            assert got.tobytes() == array.tobytes(), f"{name} read back wrong after {kind}"
            outcomes["clean"] += 1
        repo.close()
    print(json.dumps(outcomes))


def test_damaged_packs_give_clear_errors_never_a_crash(repo: Repository) -> None:
    repo.stage_weights(_weights())
    repo.commit("one pack")
    done = _in_subprocess("_mutation_campaign", str(repo.path), 7, 150)
    outcomes = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcomes["refused"] > 0 and outcomes["fsck_named"] > 0 and outcomes["clean"] > 0


# --- row 4: a flipped byte in tensor data ---


def test_a_flipped_byte_is_refused_on_read_and_other_tensors_still_load(
    repo: Repository,
) -> None:
    weights = _weights()
    oids = repo.stage_weights(weights)
    commit = repo.commit("one")
    info = repo.store.info(oids["a"])
    with open(_pack(repo), "r+b") as fh:
        fh.seek(info.offset + info.stored_nbytes // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x10]))
    fresh = Repository(repo.path)
    with pytest.raises(CorruptObjectError, match=oids["a"]):
        fresh.get_weight("a")
    with pytest.raises(CorruptObjectError):
        fresh.get_all_weights()
    lazy = fresh.get_all_weights(lazy=True)
    assert_bit_exact(lazy["b"].data, weights["b"])
    with pytest.raises(CorruptObjectError):
        lazy["a"]
    report = fresh.fsck()
    text = str(report)
    assert oids["a"] in text and commit.commit_hash[:8] in text and "'a'" in text


# --- row 5: the lock names its holder ---


def test_a_held_lock_names_its_holder_and_a_dead_holders_lock_is_free(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); import time; "
            "from coral.storage.locking import RepositoryLock; "
            f"lock = RepositoryLock(__import__('pathlib').Path({str(path)!r})); "
            "ctx = lock.hold(); ctx.__enter__(); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        waiting = RepositoryLock(path, timeout=0.2)
        expected = rf"process {holder.pid} \(running, since"
        with pytest.raises(LockTimeoutError, match=expected), waiting.hold():
            pass
    finally:
        holder.kill()
        holder.wait()
    with RepositoryLock(path, timeout=5).hold():  # the kernel released the dead holder's lock
        assert path.read_text().split()[0] == str(os.getpid())


# --- row 7: a full disk / file-size limit in the middle of a write ---


def _commit_under_fsize_limit(path: str, limit: int) -> None:
    import signal

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    repo = Repository(path)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    big = np.random.default_rng(1).integers(0, 256, 4 << 20, dtype=np.uint8)  # incompressible
    try:
        repo.stage_weights({"big": big})
        repo.commit("too big")
    except WriteFailedError as err:
        print("WriteFailedError:", err)
        return
    print("committed")


@pytest.mark.parametrize("limit", [64 << 10, (4 << 20) - 2048])
def test_a_write_past_the_file_size_limit_fails_cleanly(repo: Repository, limit: int) -> None:
    repo.stage_weights({"small": np.ones(10, np.float32)})
    before = repo.commit("before")
    done = _in_subprocess("_commit_under_fsize_limit", str(repo.path), limit)
    assert "WriteFailedError" in done.stdout and "free disk space" in done.stdout
    fresh = Repository(repo.path)
    assert fresh.head.commit_hash == before.commit_hash and fresh.status().clean
    assert fresh.fsck().ok and os.listdir(repo.coral_dir / "tmp") == []


# --- row 11: garbage HEAD and ref files ---


@pytest.mark.parametrize(
    "content", [b"", b"\xff\xfe\x00garbage", b"ref: refs/heads/../x", b"x" * 10]
)
def test_a_garbage_head_names_the_file_and_fsck_suggests_the_branch(
    repo: Repository, content: bytes
) -> None:
    repo.stage_weights({"w": np.ones(3)})
    repo.commit("one")
    repo.create_branch("dev")
    repo.checkout("dev")
    (repo.coral_dir / "HEAD").write_bytes(content)
    with pytest.raises(RepositoryFormatError, match="HEAD"):
        Repository(repo.path).status()
    report = Repository(repo.path).fsck()
    (issue,) = [i for i in report.errors if i.kind == "bad-head"]
    assert "last checked out 'dev'" in issue.message


@pytest.mark.parametrize("content", [b"", b"{", b"[" * 100_000, b'{"name": "main", "name": 1}'])
def test_a_garbage_branch_file_names_it_and_fsck_suggests_the_reflog_entry(
    repo: Repository, content: bytes
) -> None:
    repo.stage_weights({"w": np.ones(3)})
    first = repo.commit("one")
    repo.stage_weights({"w": np.zeros(3)})
    second = repo.commit("two")
    path = repo.coral_dir / "refs" / "heads" / "main"
    path.write_bytes(content)
    with pytest.raises(RepositoryFormatError, match="refs/heads/main"):
        Repository(repo.path).get_commit("main")
    report = Repository(repo.path).fsck()
    (issue,) = [i for i in report.errors if i.kind == "bad-ref" and i.subject == "main"]
    assert f"repo.create_branch('main', '{second.commit_hash}')" in issue.message
    assert first.commit_hash  # the older entry is not the suggestion


# --- row 12: ref, tag and remote names ---

_BAD_NAMES = [
    "../../x",
    "/abs",
    "a..b",
    "x.lock",
    ".hidden",
    "-opt",
    "a\x01b",
    "a@{1}",
    "x" * 10_000,
    unicodedata.normalize("NFD", "café"),
    "a\u202eb",
    "a\u200bb",
    "a\u2028b",
    "a\ud800",
    "dir/../x",
    "a/",
    "",
]


@pytest.mark.parametrize("name", _BAD_NAMES, ids=lambda n: repr(n)[:20])
def test_bad_names_are_refused_everywhere(repo: Repository, tmp_path: Path, name: str) -> None:
    repo.stage_weights({"w": np.ones(3)})
    repo.commit("one")
    before = sorted(p for p in tmp_path.rglob("*") if ".coral" not in p.parts)
    with pytest.raises(InvalidNameError):
        repo.create_branch(name)
    with pytest.raises(InvalidNameError):
        repo.tag_version(name)
    with pytest.raises(CoralError):
        repo.add_remote(name, str(tmp_path / "remote"))
    after = sorted(p for p in tmp_path.rglob("*") if ".coral" not in p.parts)
    assert after == before


def test_nfc_and_nfd_spellings_are_one_name(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(3)})
    repo.commit("one")
    repo.create_branch(unicodedata.normalize("NFC", "café"))
    with pytest.raises(InvalidNameError, match="NFC"):
        repo.create_branch(unicodedata.normalize("NFD", "café"))
    assert repo.resolve_ref("café") == repo.head.commit_hash


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(min_size=0, max_size=60))
def test_any_name_is_refused_or_stays_inside_the_repository(
    tmp_path_factory: Any, name: str
) -> None:
    root = tmp_path_factory.mktemp("names")
    repo = Repository(root / "project", init=True)
    repo.stage_weights({"w": np.ones(2)})
    repo.commit("one")
    for make in (repo.create_branch, repo.tag_version):
        try:
            make(name)
        except CoralError:
            continue
    outside = [p for p in root.rglob("*") if ".coral" not in p.relative_to(root).parts]
    assert outside == [root / "project"]
    refs = [p for p in (repo.coral_dir / "refs").rglob("*") if p.is_file()]
    assert all(repo.coral_dir / "refs" / "heads" in p.parents for p in refs)
    repo.close()


# --- row 13: tensor names ---


@pytest.mark.parametrize(
    "name", ["a/b", "../x", "..", " ", "é/ü/名前", "x" * 100_000, "tab\tname", "line\nname"]
)
def test_odd_tensor_names_round_trip(repo: Repository, name: str) -> None:
    value = np.arange(4, dtype=np.int32)
    repo.stage_weights({name: value})
    repo.commit("odd name")
    fresh = Repository(repo.path)
    assert_bit_exact(fresh.get_weight(name).data, value)
    assert name in fresh.get_all_weights()


@pytest.mark.parametrize("name", ["", "a\x00b", "bad\ud800"])
def test_unstorable_tensor_names_are_refused(repo: Repository, name: str) -> None:
    with pytest.raises(WeightTypeError):
        repo.stage_weights({name: np.ones(2)})
    assert repo.status().clean


# --- row 15: HDF5 packs from elsewhere ---


def _foreign_pack(path: Path, make: str, outside: Path) -> None:
    with h5py.File(path, "w") as f:
        f.attrs["coral_pack_format"] = 1
        group = f.create_group("objects")
        oid = "0" * 32
        if make == "external-link":
            group[oid] = h5py.ExternalLink(str(outside), "/data")
        elif make == "external-storage":
            outside.write_bytes(bytes(16))
            group.create_dataset(oid, shape=(16,), dtype=np.uint8, external=[(str(outside), 0, 16)])
        elif make == "virtual":
            layout = h5py.VirtualLayout(shape=(16,), dtype=np.uint8)
            layout[:] = h5py.VirtualSource(str(outside), "data", shape=(16,))
            group.create_virtual_dataset(oid, layout)
        elif make == "filtered":
            group.create_dataset(
                oid, data=np.zeros(4096, np.uint8), compression="gzip", chunks=True
            )
        elif make == "soft-link":
            f.create_dataset("elsewhere", data=np.zeros(16, np.uint8))
            group[oid] = h5py.SoftLink("/elsewhere")
        ds = group.get(oid)
        if ds is not None and make != "soft-link":
            for key, value in {
                "dtype": "uint8",
                "shape": np.asarray([16], np.int64),
                "codec": "raw",
                "params": "{}",
                "raw_nbytes": 16,
                "stored_nbytes": 16,
                "bases": "[]",
                "depth": 0,
            }.items():
                ds.attrs[key] = value


@pytest.mark.parametrize(
    "make", ["external-link", "external-storage", "virtual", "filtered", "soft-link"]
)
def test_foreign_hdf5_constructs_are_refused_before_reading(
    repo: Repository, tmp_path: Path, make: str
) -> None:
    outside = tmp_path / "outside.h5"
    if make in ("external-link", "virtual"):
        with h5py.File(outside, "w") as f:
            f.create_dataset("data", data=np.zeros(16, np.uint8))
    pack = repo.coral_dir / "objects" / "packs" / "pack-foreign.h5"
    _foreign_pack(pack, make, outside)
    fresh = Repository(repo.path)
    unreadable = fresh.store.unreadable_packs()
    assert "pack-foreign.h5" in unreadable
    assert "0" * 32 not in fresh.store
    report = fresh.fsck()
    assert not report.ok and "pack-foreign.h5" in str(report)


# --- rows 16 and 17: JSON metadata and sizes ---


@pytest.mark.parametrize(
    "text",
    [
        b"[" * 50_000 + b"]" * 50_000,
        b'{"format": 1, "format": 1}',
        b'{"x": NaN}',
        b'{"x": ' + b"9" * 5000 + b"}",
        b"\xff\xfe not json",
    ],
    ids=["deep", "duplicate-key", "nan", "giant-int", "not-utf8"],
)
def test_hostile_commit_files_give_one_clear_error(repo: Repository, text: bytes) -> None:
    repo.stage_weights({"w": np.ones(2)})
    commit = repo.commit("one")
    (repo.coral_dir / "objects" / "commits" / f"{commit.commit_hash}.json").write_bytes(text)
    fresh = Repository(repo.path)
    with pytest.raises(CorruptObjectError, match=commit.commit_hash):
        fresh.get_commit("main")
    report = fresh.fsck()
    assert any(i.kind == "corrupt-commit" for i in report.errors)


def test_a_huge_json_file_is_not_read_whole(repo: Repository) -> None:
    staged = repo.coral_dir / "staging" / "staged.json"
    with open(staged, "wb") as fh:
        fh.truncate(65 << 20)  # sparse: 65 MiB of zeros
    with pytest.raises(RepositoryFormatError, match="larger than"):
        repo.status()


@pytest.mark.parametrize(
    "change",
    [
        {"shape": [1 << 40, 1 << 40]},
        {"shape": [-4]},
        {"raw_nbytes": 1 << 50},
        {"stored_nbytes": 1 << 50},
        {"params": [1, 2]},
        {"codec": "gzip-bomb"},
        {"bases": ["../../etc"], "depth": 1},
        {"depth": 5},
    ],
    ids=lambda c: next(iter(c)),
)
def test_an_index_entry_that_lies_is_refused_before_allocating(
    repo: Repository, change: dict[str, Any]
) -> None:
    oids = repo.stage_weights({"w": np.ones(1000, np.float32)})
    repo.commit("one")
    pack = _pack(repo)
    sidecar = pack.with_name(pack.stem + ".idx.json")
    index = json.loads(sidecar.read_text())
    index["objects"][oids["w"]].update(change)
    sidecar.write_text(json.dumps(index))
    # The lying index is refused; the pack's own attributes rebuild a good one.
    fresh = Repository(repo.path)
    assert_bit_exact(fresh.get_weight("w").data, np.ones(1000, np.float32))
    assert fresh.fsck().ok and json.loads(sidecar.read_text()) != index
    with h5py.File(pack, "r+") as f:  # now the pack lies too
        attrs = f["objects"][oids["w"]].attrs
        for key, value in change.items():
            attrs[key] = (
                json.dumps(value)
                if key in ("params", "bases")
                else (np.asarray(value, np.int64) if key == "shape" else value)
            )
    sidecar.unlink()
    broken = Repository(repo.path)
    with pytest.raises(CoralError):
        broken.get_weight("w")
    assert not broken.fsck().ok


# --- fuzz targets (hypothesis; a few hundred examples each in CI) ---

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # what JSON can hold
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_entry_keys = ["dtype", "shape", "codec", "params", "raw_nbytes", "stored_nbytes", "bases", "depth"]


@FAST
@given(
    st.dictionaries(st.sampled_from(_entry_keys), _json_values, max_size=8),
    st.sampled_from(["0" * 32, "ab" * 16]) | st.text(max_size=40),
)
def test_fuzz_index_entries(entry: dict[str, Any], oid: str) -> None:
    try:
        info = checked_info(oid, entry)
    except ValueError:
        return
    assert info.raw_nbytes <= 64 << 30 and all(d >= 0 for d in info.shape)
    assert isinstance(entry["shape"], list) and len(info.shape) == len(entry["shape"])


@FAST
@given(st.binary(max_size=300) | _json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_json_and_commit_loaders(data: bytes) -> None:
    try:
        value = loads_json(data)
    except ValueError:
        return
    with contextlib.suppress(CorruptObjectError):  # a clear error, or a commit
        CommitStore._parse("0" * 32, value)


def test_fuzz_pack_files(repo: Repository, tmp_path: Path) -> None:
    """Random bytes, a real pack's header followed by random bytes, and real packs cut or
    scribbled on: all go through one HDF5 reader process; each gets a reason, none a crash."""
    from coral.storage.pack_reader import read_pack_indexes

    repo.stage_weights(_weights())
    repo.commit("one")
    real = _pack(repo).read_bytes()
    rng = random.Random(11)
    files = []
    for i in range(120):
        if i % 3 == 0:
            data = rng.randbytes(rng.randrange(0, 3000))
        elif i % 3 == 1:
            data = real[:512] + rng.randbytes(rng.randrange(0, 3000))
        else:
            data = bytearray(real[: rng.randrange(len(real))] if i % 2 else real)
            for _ in range(rng.randrange(1, 64)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        path = tmp_path / f"pack-{i}.h5"
        path.write_bytes(bytes(data))
        files.append(path)
    results = read_pack_indexes(files, timeout=2.0)
    assert sorted(results) == sorted(files)
    for path, result in results.items():
        if not isinstance(result, str):  # survived: then every entry passed validation
            assert all(info.location == path.name for info in result)
    assert sum(isinstance(r, str) for r in results.values()) > 100


# --- row 20: special values through every merge strategy ---


def _special(dtype: Any, shape: tuple[int, ...], flip: int) -> np.ndarray:
    """Values with NaN payloads, infinities, -0.0 and subnormals for floats; extremes for
    integers; both truth values for bool. ``flip`` makes the two sides differ."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    if dtype.kind == "f" or dtype.name == "bfloat16":
        bits = np.random.default_rng(flip).integers(
            0, 1 << (8 * dtype.itemsize), n, dtype=np.uint64
        )
        raw = bits.astype({2: np.uint16, 4: np.uint32, 8: np.uint64}[dtype.itemsize])
        out = raw.view(dtype)
        return out.reshape(shape)
    if dtype.kind == "b":
        return (np.arange(n) % (2 + flip) == 0).reshape(shape)
    info = np.iinfo(dtype)
    return np.resize(np.array([info.min, info.max, 0, flip], dtype), n).reshape(shape)


_MERGE_DTYPES = [np.float32, np.float16, np.float64, "bfloat16", np.int8, np.bool_]


@pytest.mark.parametrize(
    "strategy,params",
    [
        ("ours", {}),
        ("theirs", {}),
        ("average", {}),
        ("weighted", {"merge_alpha": 0.3}),
        ("task_arithmetic", {}),
        ("ties", {"density": 0.5}),
        ("dare", {"density": 0.5, "seed": 1}),
        ("slerp", {}),
    ],
)
def test_special_values_survive_every_merge_strategy(
    repo: Repository, strategy: str, params: dict[str, Any]
) -> None:
    import ml_dtypes

    dtypes = [
        np.dtype(ml_dtypes.bfloat16) if d == "bfloat16" else np.dtype(d) for d in _MERGE_DTYPES
    ]
    shapes = [(33,), (), (0, 4)]
    names = [(f"{d.name}{s}", d, s) for d in dtypes for s in shapes]
    repo.stage_weights({n: _special(d, s, 0) for n, d, s in names})
    repo.commit("base")
    repo.create_branch("other")
    repo.checkout("other")
    theirs = {n: _special(d, s, 2) for n, d, s in names}
    repo.stage_weights(theirs)
    repo.commit("theirs")
    repo.checkout("main")
    ours = {n: _special(d, s, 1) for n, d, s in names}
    repo.stage_weights(ours)
    repo.commit("ours")
    merged = repo.merge("other", strategy, non_float="theirs", **params)
    result = Repository(repo.path).get_all_weights(merged.commit_hash)
    for name, dtype, shape in names:
        got = result[name].data
        assert got.dtype == dtype and got.shape == shape, name
        if strategy == "ours":
            assert_bit_exact(got, ours[name])
        elif strategy == "theirs" or dtype.kind in "biu":  # integers follow non_float
            assert_bit_exact(got, theirs[name])
    assert Repository(repo.path).fsck().ok


@FAST
@given(st.data())
def test_fuzz_commit_fields(data: st.DataObject) -> None:
    """A real commit file with one field, at any depth, replaced by any JSON value."""
    commit = {
        "format": 1,
        "commit_hash": "0" * 32,
        "parent_hashes": ["1" * 32],
        "weight_hashes": {"w": "2" * 32},
        "delta_weights": {"w": "3" * 32},
        "weight_metadata": {"w": {"name": "w", "shape": [2], "dtype": "float32"}},
        "metadata": {
            "author": "a",
            "email": "e",
            "message": "m",
            "timestamp": "2026-01-01T00:00:00+00:00",
            "tags": [],
            "extra": {},
        },
    }
    target = commit
    path = data.draw(st.lists(st.integers(0, 7), min_size=1, max_size=3))
    for step in path[:-1]:
        keys = list(target) if isinstance(target, dict) else []
        child = target[keys[step % len(keys)]] if keys else None
        if not isinstance(child, dict) or not child:
            break
        target = child
    keys = list(target)
    target[keys[path[-1] % len(keys)]] = data.draw(_json_values)
    with contextlib.suppress(CorruptObjectError):
        CommitStore._parse("0" * 32, loads_json(json.dumps(commit)))


# --- input outside the arrays Coral stores: one clear CoralError, and nothing written ---


def _meta_tensor(repo: Repository) -> None:
    torch = pytest.importorskip("torch")
    repo.stage_weights({"w": torch.empty(3, 2, device="meta")})


def _masked_array(repo: Repository) -> None:
    repo.stage_weights({"w": np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])})


def _gc_during_a_stage(repo: Repository) -> None:
    repo.stage_weights({"w": np.ones(4, np.float32)}, progress=lambda _: repo.gc())


@pytest.mark.parametrize(
    ("act", "error", "builtin", "fragment"),
    [
        (_meta_tensor, InvalidWeightError, ValueError, r"'w'.*meta device.*to_empty"),
        (_masked_array, InvalidWeightError, ValueError, r"'w'.*masked array.*filled"),
        (
            lambda repo: repo.stage_files({"x.json": "text"}),
            InvalidTypeError,
            TypeError,
            r"'x.json'.*bytes.*got str.*encode",
        ),
        (
            lambda repo: repo.stage_files({"x.json": b"{}", "n.bin": 5}),
            InvalidTypeError,
            TypeError,
            r"'n.bin'.*bytes.*got int",
        ),
        (_gc_during_a_stage, LockOrderError, RuntimeError, r"gc.*inside a write.*after"),
    ],
    ids=["meta-tensor", "masked-array", "file-as-str", "file-as-int", "gc-inside-a-write"],
)
def test_unstorable_input_is_one_clear_coral_error_and_changes_nothing(
    repo: Repository, act: Any, error: type[CoralError], builtin: type, fragment: str
) -> None:
    repo.stage_weights({"kept": np.arange(3, dtype=np.float32)})
    head = repo.commit("before")
    objects, packs = set(repo.store.object_ids()), repo.store.pack_names()
    with pytest.raises(error, match=fragment) as info:
        act(repo)
    assert isinstance(info.value, builtin) and "\n" not in str(info.value)
    fresh = Repository(repo.path)
    assert fresh.status().clean and fresh.head == repo.head
    assert fresh.get_commit("HEAD").commit_hash == head.commit_hash
    assert set(fresh.store.object_ids()) == objects and fresh.store.pack_names() == packs
