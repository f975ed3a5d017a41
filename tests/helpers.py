"""Assertions and builders shared by the tests."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coral.records.store_setup import configure_store
from coral.testing.arrays import assert_bit_exact
from coral.version_control import Repository

__all__ = [
    "assert_bit_exact",
    "reopen",
    "repository_state",
    "run_killed_after",
    "sweep_kills",
    "tiny_bert",
]


def reopen(repo: Repository) -> Repository:
    """The same repository opened afresh, holding nothing of ``repo``'s: from its path on
    disk; in memory, new services over the same records and objects, with the store set up
    from the configuration again (what opening it would do)."""
    if repo.parts.layout is None:
        configure_store(repo.parts.store, repo.parts.config)
        return Repository.from_parts(repo.parts)
    return Repository(repo.path)


def repository_state(repo: Repository) -> dict[str, bytes]:
    """Every record, byte for byte, and the object IDs the store holds: equal before and
    after an operation that must change nothing, on disk or in memory."""
    records = repo.parts.records
    keys = ["HEAD", "config.json", "remotes.json"]
    for folder in ("refs", "logs", "objects/commits", "versions", "staging"):
        keys += records.list(folder)
    state = {key: records.read(key, max_bytes=None) or b"" for key in keys}
    repo.store.refresh()
    state["<objects>"] = "\n".join(sorted(repo.store.object_ids())).encode()
    if repo.parts.layout is not None:  # a new pack of old objects changes nothing above
        packs = sorted(p.name for p in repo.parts.layout.packs_dir.iterdir())
        state["<packs>"] = "\n".join(packs).encode()
    return state


def tiny_bert(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A two-layer BERT from ``transformers`` (skipped without it), saved with
    ``save_pretrained`` into ``folder``; nothing is downloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    model.save_pretrained(folder)
    return model


def run_killed_after(target: int, operation: Callable[[], object]) -> int:
    """Run ``operation`` in a forked child that SIGKILLs itself right after its ``target``-th
    durable filesystem change (fsync, rename, unlink, rmdir, write, pwritev). Returns the
    child's exit code: 0 when the operation finished first, -SIGKILL when the kill landed."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _kill_after(target)
            operation()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _kill_after(target: int) -> None:
    count = 0

    def hook(attr: str) -> None:
        original = getattr(os, attr)

        def hooked(*args: object, **kwargs: object) -> object:
            nonlocal count
            result = original(*args, **kwargs)
            count += 1
            if count == target:
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(os, attr, hooked)

    for attr in ("fsync", "replace", "unlink", "rmdir", "pwritev", "write"):
        hook(attr)


def sweep_kills(
    pristine: Path,
    work: Path,
    operation: Callable[[Path], object],
    check: Callable[[Path, bool], None],
    limit: int = 400,
) -> int:
    """Kill ``operation(work)`` after its 1st, 2nd, ... durable step, each time on a fresh
    copy of ``pristine``, and ``check(work, finished)`` what is left; stop when it finishes
    unkilled. Returns how many kill points there were."""
    for target in range(1, limit):
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work, symlinks=True)
        status = run_killed_after(target, lambda: operation(work))
        assert status in (0, -signal.SIGKILL), f"the operation failed at step {target}"
        check(work, status == 0)
        if status == 0:
            return target - 1
    raise AssertionError(f"the operation did not finish within {limit} durable steps")
