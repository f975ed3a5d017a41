"""Delta encoding: bit-exact for every dtype and bit pattern, smaller for training runs."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coral.core.dtypes import SUPPORTED_DTYPE_NAMES, byte_view, dtype_from_name
from coral.core.weight_tensor import WeightTensor
from coral.delta import SPARSE, ZIGZAG, DeltaEncoder
from coral.delta.residual import as_words, predict, zigzag_residual
from coral.errors import CorruptObjectError, InvalidValueError
from coral.storage import MemoryStore, WriteRequest
from coral.storage.codecs import Encoded
from coral.version_control import Repository
from tests.helpers import assert_bit_exact
from tests.strategies import shapes


def _payload(encoded: Encoded) -> np.ndarray:
    parts = [np.frombuffer(s, np.uint8) if isinstance(s, bytes) else s for s in encoded.segments]
    return np.concatenate(parts) if parts else np.empty(0, np.uint8)


@st.composite
def related_arrays(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A target and two bases of one dtype/shape: arbitrary bytes, or small perturbations."""
    dtype = dtype_from_name(draw(st.sampled_from(SUPPORTED_DTYPE_NAMES)))
    shape = draw(shapes)
    count = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize

    def raw() -> np.ndarray:
        data = draw(st.binary(min_size=count, max_size=count))
        if dtype == np.bool_:
            data = bytes(b & 1 for b in data)
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    older = raw()
    if draw(st.booleans()):
        return raw(), raw(), older  # unrelated bit patterns: NaNs, infs, -0.0, subnormals
    newer = older.copy()
    target = older.copy()
    flat_n, flat_t = byte_view(newer), byte_view(target)
    for i in draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=8)) if count else []:
        flat_n[i] ^= 1
        flat_t[i] ^= draw(st.integers(0, 255))
    return target, newer, older


@given(related_arrays(), st.sampled_from(["previous", "linear"]))
@settings(max_examples=300, deadline=None)
def test_delta_codecs_round_trip_every_bit_pattern(
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray], predictor: str
) -> None:
    target, newer, older = arrays
    bases = [newer, older] if predictor == "linear" else [newer]
    residual = zigzag_residual(as_words(target), predict(bases, predictor))
    for codec in (ZIGZAG, SPARSE):
        encoded = codec.encode_residual(residual, predictor)
        out = np.empty(target.nbytes, np.uint8)
        codec.decode(encoded.params, _payload(encoded), out, bases)
        assert out.tobytes() == byte_view(target).tobytes()


def _delta_store(max_depth: int = 10) -> MemoryStore:
    store = MemoryStore(cache_bytes=1 << 30)
    store.delta_policy = DeltaEncoder(store.info, store.read_shared, max_depth=max_depth)
    return store


def _run(rng: np.random.Generator, steps: int, shape: tuple[int, ...], dtype: type) -> list:
    """Versions of a weight moving like AdamW moves it: a little, in every element."""
    w = rng.standard_normal(shape).astype(np.float64) * 0.02
    velocity = np.zeros(shape)
    versions = []
    for _ in range(steps):
        velocity = 0.9 * velocity + 1e-6 * rng.standard_normal(shape)
        w = w * (1 - 1e-5) + velocity
        versions.append(w.astype(dtype))
    return versions


@pytest.mark.parametrize(
    ("dtype", "at_most"),
    # float64 changes reach ~5 of its 8 bytes at this rate; narrower floats change fewer bytes
    [(np.float32, 0.6), (np.float16, 0.6), (ml_dtypes.bfloat16, 0.6), (np.float64, 0.9)],
)
def test_a_training_run_is_stored_as_small_deltas_and_reads_back_bit_exact(
    dtype: type, at_most: float
) -> None:
    store = _delta_store()
    versions = _run(np.random.default_rng(0), 8, (300, 200), dtype)
    oids: list[str] = []
    for version in versions:
        with store.writer() as writer:
            bases = tuple(reversed(oids[-2:]))
            oids.append(writer.add_many([WriteRequest(version, None, bases)])[0])
    infos = [store.info(o) for o in oids]
    assert infos[0].bases == () and all(i.bases for i in infos[1:])
    assert infos[-1].codec in ("delta-zigzag", "delta-sparse")
    assert infos[-1].stored_nbytes < at_most * infos[0].stored_nbytes
    store.cache.clear()
    for version, oid in zip(versions, oids, strict=True):
        assert_bit_exact(store.read(oid), version)


def test_chains_never_exceed_the_maximum_depth() -> None:
    store = _delta_store(max_depth=3)
    versions = _run(np.random.default_rng(1), 12, (64, 64), np.float32)
    oids: list[str] = []
    for version in versions:
        with store.writer() as writer:
            oids.append(writer.add_many([WriteRequest(version, None, tuple(reversed(oids)))])[0])
    depths = [store.info(o).depth for o in oids]
    assert max(depths) == 3 and depths.count(0) >= 3  # full objects restart the chains
    store.cache.clear()
    for version, oid in zip(versions, oids, strict=True):
        assert_bit_exact(store.read(oid), version)


def test_a_delta_is_not_kept_when_the_full_object_is_smaller() -> None:
    store = _delta_store()
    rng = np.random.default_rng(2)
    base = rng.integers(0, 2**32, size=50_000, dtype=np.uint32).view(np.float32)
    unrelated = np.zeros(50_000, np.float32)  # compresses to nothing as a full object
    with store.writer() as writer:
        b = writer.add(base)
    with store.writer() as writer:
        oid = writer.add_many([WriteRequest(unrelated, None, (b,))])[0]
    assert store.info(oid).bases == ()


def test_sparse_updates_use_the_sparse_form() -> None:
    store = _delta_store()
    rng = np.random.default_rng(3)
    base = (rng.standard_normal(400_000) * 0.02).astype(np.float32)
    target = base.copy()
    target[rng.choice(base.size, 500, replace=False)] += np.float32(0.01)  # embedding rows
    with store.writer() as writer:
        b = writer.add(base)
    with store.writer() as writer:
        oid = writer.add_many([WriteRequest(target, None, (b,))])[0]
    info = store.info(oid)
    assert info.codec == "delta-sparse" and info.stored_nbytes < 0.02 * target.nbytes
    store.cache.clear()
    assert_bit_exact(store.read(oid), target)


def test_candidates_of_another_shape_or_dtype_are_ignored() -> None:
    store = _delta_store()
    with store.writer() as writer:
        other_shape = writer.add(np.zeros((10, 10), np.float32))
        other_dtype = writer.add(np.zeros(100, np.float64))
    with store.writer() as writer:
        oid = writer.add_many(
            [WriteRequest(np.ones(100, np.float32), None, (other_shape, other_dtype, "f" * 32))]
        )[0]
    assert store.info(oid).bases == ()


@given(data=st.data())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_repository_history_of_any_dtype_reads_back_bit_exact(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    repo = Repository(tmp_path_factory.mktemp("delta"), init=True)
    dtype = dtype_from_name(data.draw(st.sampled_from(SUPPORTED_DTYPE_NAMES)))
    shape = data.draw(shapes)
    count = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    versions = []
    for i in range(4):
        raw = bytearray(data.draw(st.binary(min_size=count, max_size=count)))
        if dtype == np.bool_:
            raw = bytearray(b & 1 for b in raw)
        versions.append(np.frombuffer(bytes(raw), dtype=dtype).reshape(shape))
        repo.stage_weights({"w": versions[-1]})
        repo.commit(f"v{i}", allow_empty=True)
    fresh = Repository(repo.path)
    for i, version in enumerate(versions):
        assert_bit_exact(fresh.get_weight("w", f"HEAD~{3 - i}").data, version)


def test_a_torch_adamw_run_committed_every_step_reads_back_bit_exact(repo: Repository) -> None:
    torch = pytest.importorskip("torch")
    from coral.integrations.pytorch import pytorch_to_coral

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, y = torch.randn(128, 64), torch.randint(0, 8, (128,))
    expected: list[dict[str, np.ndarray]] = []
    commits = []
    for step in range(20):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        weights = pytorch_to_coral(model)
        expected.append({k: w.to_numpy() for k, w in weights.items()})
        repo.stage_weights(weights)
        commits.append(repo.commit(f"step {step}"))
    # Every tensor changed each step; all but the tiny 8-element bias are stored as deltas.
    assert set(commits[-1].delta_weights) == {"0.weight", "0.bias", "2.weight"}
    assert commits[0].delta_weights == {}
    packs = repo.coral_dir / "objects" / "packs"
    stored = sum(p.stat().st_size for p in packs.iterdir() if p.suffix == ".h5")
    raw = sum(a.nbytes for a in expected[0].values()) * len(expected)
    assert stored < 0.6 * raw
    fresh = Repository(repo.path)
    for commit, snapshot in zip(commits, expected, strict=True):
        back = fresh.get_all_weights(commit.commit_hash)
        for name, arr in snapshot.items():
            assert_bit_exact(back[name].data, arr)
    assert fresh.fsck().ok


def test_delta_encoding_can_be_switched_off(repo: Repository) -> None:
    repo.config.set("core.delta_encoding", False)
    repo = Repository(repo.path)
    versions = _run(np.random.default_rng(4), 3, (100, 100), np.float32)
    for i, version in enumerate(versions):
        repo.stage_weights({"w": version})
        commit = repo.commit(f"v{i}")
    assert commit.delta_weights == {}
    assert all(not repo.store.info(o).bases for o in repo.store.object_ids())


def test_a_live_buffer_changing_during_a_delta_encode_is_stored_consistently(
    repo: Repository,
) -> None:
    import threading

    live = (np.random.default_rng(5).standard_normal(3_000_000) * 0.02).astype(np.float32)
    repo.stage_weights({"w": live.copy()})
    repo.commit("base")
    stop = threading.Event()

    def train() -> None:
        while not stop.is_set():
            live[::89] += np.float32(1e-4)

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        oids = [repo.stage_weights({"w": live})["w"] for _ in range(3)]
    finally:
        stop.set()
        trainer.join()
    repo.commit("racing")
    assert repo.store.info(oids[-1]).bases  # it really went through the delta path
    repo.store.cache.clear()
    for oid in oids:
        repo.store.verify(oid)
    assert repo.fsck().ok


def test_fsck_reconstructs_deltas_and_names_a_damaged_base(repo: Repository) -> None:
    import h5py

    versions = _run(np.random.default_rng(6), 3, (200, 100), np.float32)
    for i, version in enumerate(versions):
        repo.stage_weights({"w": version})
        repo.commit(f"v{i}")
    base_oid = repo.get_commit("HEAD~2").weight_hashes["w"]
    info = repo.store.info(base_oid)
    repo.close()
    pack = repo.coral_dir / "objects" / "packs" / info.location
    with h5py.File(pack, "r") as f:
        offset = f["objects"][base_oid].id.get_offset()
    with open(pack, "r+b") as fh:
        fh.seek(offset + info.stored_nbytes // 2)
        byte = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([byte[0] ^ 0x40]))
    report = Repository(repo.path).fsck()
    corrupt = {i.subject for i in report.errors if i.kind == "corrupt-object"}
    assert base_oid in corrupt and len(corrupt) == 3  # the base and both deltas built on it


def test_delta_weights_name_the_bases_and_weight_hashes_the_content(repo: Repository) -> None:
    versions = _run(np.random.default_rng(7), 3, (100, 100), np.float32)
    commits = []
    for i, version in enumerate(versions):
        repo.stage_weights({"w": WeightTensor(version)})
        commits.append(repo.commit(f"v{i}"))
    last = commits[-1]
    assert last.weight_hashes["w"] == WeightTensor(versions[-1]).content_hash
    assert last.delta_weights["w"].split(",") == [
        commits[1].weight_hashes["w"],
        commits[0].weight_hashes["w"],
    ]


def test_a_renamed_weight_finds_its_base_through_the_similarity_index(repo: Repository) -> None:
    versions = _run(np.random.default_rng(8), 2, (300, 300), np.float32)
    repo.stage_weights({"encoder.layer.0.weight": versions[0]})
    repo.commit("before the rename")
    repo.stage_weights({"encoder.block.0.weight": versions[1]}, remove_missing=True)
    commit = repo.commit("renamed the layer")
    base = repo.get_commit("HEAD~1").weight_hashes["encoder.layer.0.weight"]
    assert commit.delta_weights == {"encoder.block.0.weight": base}
    assert_bit_exact(Repository(repo.path).get_weight("encoder.block.0.weight").data, versions[1])


def test_dissimilar_tensors_are_not_used_as_bases(repo: Repository) -> None:
    rng = np.random.default_rng(9)
    repo.stage_weights({"a": rng.standard_normal((200, 200)).astype(np.float32)})
    repo.commit("a")
    repo.stage_weights({"b": rng.standard_normal((200, 200)).astype(np.float32)})
    assert repo.commit("b").delta_weights == {}


def test_lossy_int8_needs_an_explicit_opt_in(repo: Repository) -> None:
    versions = _run(np.random.default_rng(10), 2, (100, 100), np.float32)
    repo.stage_weights({"w": versions[0]})
    repo.commit("exact")
    repo.config.set("core.delta_type", "int8_quantized")
    with pytest.raises(InvalidValueError, match="lossy"):
        repo.stage_weights({"w": versions[1]})
    assert repo.status().clean


def test_lossy_int8_commits_the_rounded_change_and_says_so(repo: Repository) -> None:
    versions = _run(np.random.default_rng(11), 2, (100, 100), np.float32)
    repo.stage_weights({"w": versions[0]})
    repo.commit("exact")
    repo.stage_weights({"w": versions[1]}, lossy=True)
    commit = repo.commit("quantized")
    assert commit.metadata.extra == {"lossy_weights": ["w"]}
    back = Repository(repo.path).get_weight("w")
    assert back.metadata.extra["lossy"] == "int8_quantized"
    change = versions[1].astype(np.float64) - versions[0].astype(np.float64)
    step = np.abs(change).max() / 127
    error = np.abs(back.data.astype(np.float64) - versions[1].astype(np.float64))
    assert back.data.tobytes() != versions[1].tobytes()
    assert error.max() <= step / 2 + 1e-7  # rounding to the nearest int8 step, then float32
    assert back.content_hash == commit.weight_hashes["w"]  # the ID is the reconstruction's
    repo.config.set("core.allow_lossy", True)
    repo.config.set("core.delta_type", "int8_quantized")
    repo.stage_weights({"w": versions[0]})  # configured opt-in: no argument needed
    assert repo.commit("quantized by config").metadata.extra == {"lossy_weights": ["w"]}


def test_repack_cuts_chains_to_the_new_limit_and_reads_stay_bit_exact(repo: Repository) -> None:
    versions = _run(np.random.default_rng(12), 9, (120, 80), np.float32)
    for i, version in enumerate(versions):
        repo.stage_weights({"w": version})
        repo.commit(f"v{i}")
    newest = repo.get_commit().weight_hashes["w"]
    assert repo.store.info(newest).depth == 8
    result = repo.repack(max_depth=2)
    assert result.deepest_before == 8 and result.deepest_after == 2
    # Linear predictions reach two versions back, so keyframes come in pairs: v3, v4, v7, v8.
    assert result.objects_rewritten == 4
    fresh = Repository(repo.path)
    for i, version in enumerate(versions):
        assert_bit_exact(fresh.get_weight("w", f"HEAD~{8 - i}").data, version)
    assert fresh.repack(max_depth=2).objects_rewritten == 0
    assert fresh.fsck().ok


def test_a_cyclic_delta_chain_is_reported_not_followed_forever() -> None:
    from dataclasses import replace

    store = _delta_store()
    versions = _run(np.random.default_rng(13), 2, (50, 50), np.float32)
    with store.writer() as writer:
        a = writer.add(versions[0])
    with store.writer() as writer:
        b = writer.add_many([WriteRequest(versions[1], None, (a,))])[0]
    info_a, payload_a = store._objects[a]
    store._objects[a] = (replace(info_a, bases=(b,), depth=1), payload_a)  # a <- b <- a
    store.cache.clear()
    with pytest.raises(CorruptObjectError, match="cyclic"):
        store.read(b)
