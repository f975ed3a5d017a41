"""Crash safety: a writer SIGKILLed at any instant leaves a repository that opens, passes
``fsck`` and shows either the old or the new state, bit-exactly (ARCHITECTURE.md, "On disk").

A child process stages and commits in a loop; the test SIGKILLs it (no cleanup can run) and
then checks the repository from the test process. The weights of every commit are a pure
function of ``(seed, step)`` and the step is the commit message, so the expected arrays of any
commit are recomputed here and compared byte for byte (dtype, shape and bytes; never allclose).

Kill points come from two sources:

* ``test_sigkill_after_random_delay``: the child loops forever; a seeded RNG draws how long it
  runs before the kill, so kills land anywhere in the cycle (array encoding, HDF5 writes, pack
  renames, sidecar indexes, the staging file, commit files, ref updates, reflog appends).
* ``test_sigkill_at_each_durable_write``: the child kills itself right after its k-th
  ``os.fsync`` / ``os.replace`` / ``os.write`` / pack dataset write, for every k of the first
  commit and of a later one, so every step of the publish protocol is hit deterministically;
  after each kill the test also commits on top of what the crash left.

``test_sigkill_while_holding_the_lock`` kills a child inside ``commit()`` while it holds the
repository lock: a process already waiting for the lock, and a fresh one, must then commit.

Children are forked from a "zygote" process that imports Coral once, so a kill point costs a
fork rather than a new interpreter (importing Coral takes most of a second).
"""

from __future__ import annotations

import fcntl
import functools
import itertools
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

from coral.errors import LockTimeoutError
from coral.storage.locking import RepositoryLock
from coral.version_control import Commit, Repository
from tests.helpers import assert_bit_exact

ROOT = Path(__file__).resolve().parents[1]
_REAL_WRITE = os.write  # children hook os.write; their own bookkeeping bypasses the hook

# --- the weights every commit holds, derived from (seed, step) ---

_BF16 = np.dtype(ml_dtypes.bfloat16)
_SPECS: tuple[tuple[str, np.dtype[Any], tuple[int, ...], int], ...] = (
    # name, dtype, shape, period: the weight gets new values at every step divisible by period
    ("encoder.0.weight", np.dtype(np.float32), (512, 640), 1),  # 1.25 MiB
    ("encoder.1.weight", np.dtype(np.float16), (1024, 640), 3),  # 1.25 MiB
    ("embed.weight", _BF16, (640, 1024), 4),  # 1.25 MiB
    ("encoder.0.bias", np.dtype(np.float32), (640,), 1),
    ("norm.scale", _BF16, (1024,), 2),  # random bit patterns: NaN payloads, infs, subnormals
    ("special", np.dtype(np.float32), (64,), 1),  # explicit NaN payloads, -0.0, subnormals
    ("token_ids", np.dtype(np.int64), (300, 7), 2),
    ("mask", np.dtype(np.bool_), (33, 17), 1),
    ("temperature", np.dtype(np.float16), (), 2),  # 0-d
    ("empty.bias", np.dtype(np.float32), (0, 16), 1),  # no elements: the same object each step
)
_BIG = 1 << 20
_SPECIAL_F32_BITS = [0x7FC00001, 0xFF800123, 0x80000000, 0x00000001, 0x7F800000, 0x807FFFFF]


@functools.lru_cache(maxsize=64)
def _tensor(seed: int, index: int, version: int) -> np.ndarray:
    name, dtype, shape, _ = _SPECS[index]
    rng = np.random.default_rng([seed, index, version])
    if dtype == np.bool_:
        arr = rng.integers(0, 2, size=shape, dtype=np.uint8).astype(np.bool_)
    elif dtype == np.int64:
        info = np.iinfo(np.int64)
        arr = rng.integers(info.min, info.max, size=shape, dtype=np.int64, endpoint=True)
    elif name == "special":
        bits = rng.integers(0, 2**32, size=shape, dtype=np.uint32)
        bits[: len(_SPECIAL_F32_BITS)] = _SPECIAL_F32_BITS
        arr = bits.view(np.float32)
    elif name == "norm.scale":
        arr = rng.integers(0, 2**16, size=shape, dtype=np.uint16).view(_BF16)
    else:
        arr = (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(dtype)
    arr = np.asarray(arr, dtype=dtype)  # rng methods return scalars for shape ()
    arr.flags.writeable = False
    return arr


def _snapshot(seed: int, step: int) -> dict[str, np.ndarray]:
    """The weights a commit of ``step`` holds."""
    return {spec[0]: _tensor(seed, i, step - step % spec[3]) for i, spec in enumerate(_SPECS)}


def _changes(seed: int, step: int) -> dict[str, np.ndarray]:
    """The weights that get new values at ``step`` (all of them at step 0)."""
    return {spec[0]: _tensor(seed, i, step) for i, spec in enumerate(_SPECS) if step % spec[3] == 0}


def _step_of(commit: Commit) -> int:
    match = re.fullmatch(r"step (\d+)", commit.metadata.message)
    assert match, f"unexpected commit message {commit.metadata.message!r}"
    return int(match.group(1))


def _next_step(repo: Repository) -> int:
    head = repo.head.commit_hash
    return 0 if head is None else _step_of(repo.get_commit(head)) + 1


_CURRENT_STEP = [-1]  # the step _commit_steps is working on (kill hooks report it)


def _commit_steps(repo: Repository, seed: int, log_fd: int, max_steps: int | None) -> None:
    """Stage and commit steps on top of HEAD; log ``step hash`` once ``commit()`` returned."""
    done = 0
    while max_steps is None or done < max_steps:
        step = _next_step(repo)
        _CURRENT_STEP[0] = step
        changes = _changes(seed, step)
        big = {n: a for n, a in changes.items() if a.nbytes >= _BIG}
        small = {n: a for n, a in changes.items() if a.nbytes < _BIG}
        # A step changes some weights and keeps the rest: a partial update.
        if big:
            repo.stage_weights(big, partial=True)
        repo.stage_weights(small, partial=True)  # two staging calls: a kill can land between
        commit = repo.commit(f"step {step}")
        _REAL_WRITE(log_fd, f"{step} {commit.commit_hash}\n".encode())
        done += 1


# --- child processes (run in processes forked by the zygote) ---


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")  # Linux
    except OSError:
        pass
    try:
        path: bytes = fcntl.fcntl(fd, fcntl.F_GETPATH, bytes(1024))  # type: ignore[attr-defined]
        return path.rstrip(b"\0").decode()  # macOS
    except (AttributeError, OSError):
        return f"fd {fd}"


def _describe(attr: str, args: tuple[Any, ...]) -> str:
    """``replace(objects/packs/pack-1.h5)``-style name of a hooked call, for failure messages."""
    if attr == "_write":
        return f"pack dataset write ({args[1].object_id[:8]})"
    target = args[1] if attr == "replace" else args[0]
    if isinstance(target, int):
        target = _fd_path(target)
    text = str(target)
    return f"{attr}({text.split('/.coral/', 1)[-1]})"


def _install_kill_hook(target: int, in_commit_only: bool) -> None:
    """SIGKILL this process right after its ``target``-th durable write operation (counting
    only those made inside ``Repository.commit`` when ``in_commit_only``)."""
    from coral.storage.pack_store import _PackWriter

    count = 0
    counting = not in_commit_only
    original_commit = Repository.commit

    @functools.wraps(original_commit)
    def commit(*args: Any, **kwargs: Any) -> Commit:
        nonlocal counting
        counting = True
        return original_commit(*args, **kwargs)

    Repository.commit = commit  # type: ignore[method-assign]

    def hook(owner: Any, attr: str) -> None:
        original = getattr(owner, attr)

        @functools.wraps(original)
        def hooked(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            if not counting:
                return original(*args, **kwargs)
            count += 1
            n = count
            result = original(*args, **kwargs)
            if n == target:
                where = f"kill point #{n} in step {_CURRENT_STEP[0]}: after {_describe(attr, args)}"
                _REAL_WRITE(2, (where + "\n").encode())
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(owner, attr, hooked)

    for attr in ("fsync", "replace", "write"):
        hook(os, attr)
    hook(_PackWriter, "_write")  # one dataset of a pack under construction in tmp/


def _hang_inside_commit(ready_fd: int) -> None:
    """Make ``commit()`` stop, lock held, right after it wrote the commit file."""
    from coral.records.commits import CommitStore

    original = CommitStore.put

    def put(self: CommitStore, commit: Commit) -> None:
        original(self, commit)
        _REAL_WRITE(ready_fd, b"L")
        time.sleep(3600)

    CommitStore.put = put  # type: ignore[method-assign]


def _child_main(request: dict[str, Any], ready_fd: int) -> None:
    repo = Repository(request["repo"])
    log_fd = os.open(request["commits_log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    mode = request["mode"]
    if mode == "hang":
        _hang_inside_commit(ready_fd)  # signals "L" from inside commit()
    else:
        _REAL_WRITE(ready_fd, b"R")
    if mode == "inject":
        _install_kill_hook(request["target"], request["in_commit_only"])
    _commit_steps(repo, request["seed"], log_fd, request.get("max_steps"))


def _zygote_spawn(request: dict[str, Any]) -> dict[str, Any]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to the zygote's loop
        code = 1
        try:
            os.close(read_fd)
            out = os.open(request["output"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(out, 1)
            os.dup2(out, 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.environ.clear()
            os.environ.update(request["env"])
            _child_main(request, write_fd)
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(write_fd)
    readable, _, _ = select.select([read_fd], [], [], request["timeout"])
    signal_byte = os.read(read_fd, 1) if readable else b""
    os.close(read_fd)
    return {"pid": pid, "ready": signal_byte.decode()}


def _zygote_reap(pid: int, timeout: float) -> dict[str, Any]:
    """Exit code (negative: killed by that signal), or None while running (timeout 0)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return {"status": os.waitstatus_to_exitcode(status), "timed_out": False}
        if time.monotonic() >= deadline:
            if timeout == 0:
                return {"status": None, "timed_out": False}
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"status": None, "timed_out": True}
        time.sleep(0.002)


def _zygote_main() -> None:
    """Serve spawn/kill/wait/poll requests, one JSON object per line on stdin."""
    live: set[int] = set()
    try:
        for line in sys.stdin:
            request = json.loads(line)
            op = request["op"]
            if op == "spawn":
                reply = _zygote_spawn(request)
                live.add(reply["pid"])
            elif op == "warm":  # children inherit the arrays instead of recomputing them
                for step in request["steps"]:
                    _changes(request["seed"], step)
                reply = {}
            elif op == "kill":
                time.sleep(request["delay"])
                os.kill(request["pid"], signal.SIGKILL)
                reply = _zygote_reap(request["pid"], 30.0)
            elif op == "wait":
                reply = _zygote_reap(request["pid"], request["timeout"])
            else:
                reply = _zygote_reap(request["pid"], 0)
            if reply.get("status") is not None or reply.get("timed_out"):
                live.discard(request["pid"])
            print(json.dumps(reply), flush=True)
    finally:
        for pid in live:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


def _fresh_process_main() -> None:
    """``python -c`` entry point: commit ``max_steps`` steps in a brand-new interpreter."""
    repo_path, seed, log, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    _commit_steps(Repository(repo_path), seed, log_fd, steps)


def _entry_code(function: str) -> str:
    return (
        f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
        f"from tests.test_crash_safety import {function}; {function}()"
    )


# --- the test side ---


@dataclass
class _Child:
    pid: int
    ready: str
    output: Path

    def log(self) -> str:
        try:
            return self.output.read_text()[-4000:]
        except FileNotFoundError:
            return ""


class _Zygote:
    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._spawned = 0
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _entry_code("_zygote_main")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=os.environ.copy(),
        )

    def _request(self, **request: Any) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the zygote process died (exit code {self._proc.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def spawn(self, mode: str, repo: Path, seed: int, commits_log: Path, **extra: Any) -> _Child:
        self._spawned += 1
        output = self._workdir / f"child-{self._spawned}.log"
        reply = self._request(
            op="spawn",
            mode=mode,
            repo=str(repo),
            seed=seed,
            commits_log=str(commits_log),
            output=str(output),
            env=dict(os.environ),  # carries CORAL_AUTHOR_NAME/EMAIL set by conftest
            timeout=60.0,
            **extra,
        )
        return _Child(reply["pid"], reply["ready"], output)

    def warm(self, seed: int, steps: list[int]) -> None:
        self._request(op="warm", seed=seed, steps=steps)

    def kill(self, child: _Child, delay: float) -> int | None:
        """SIGKILL ``child`` after ``delay`` seconds; its exit code (-9 if it was running)."""
        status: int | None = self._request(op="kill", pid=child.pid, delay=delay)["status"]
        return status

    def wait(self, child: _Child, timeout: float = 60.0) -> int | None:
        reply = self._request(op="wait", pid=child.pid, timeout=timeout)
        assert not reply["timed_out"], f"child {child.pid} hung:\n{child.log()}"
        status: int | None = reply["status"]
        return status

    def poll(self, child: _Child) -> int | None:
        """The exit code, or None while ``child`` runs."""
        status: int | None = self._request(op="poll", pid=child.pid)["status"]
        return status

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


@pytest.fixture(scope="module")
def zygote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Zygote]:
    server = _Zygote(tmp_path_factory.mktemp("children"))
    yield server
    server.close()


def _read_commit_log(log: Path) -> list[tuple[int, str]]:
    """``(step, hash)`` of every ``commit()`` that returned (a torn last line is ignored)."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return []
    entries = []
    for line in text.splitlines(keepends=True):
        if line.endswith("\n"):
            step, commit_hash = line.split()
            entries.append((int(step), commit_hash))
    return entries


@dataclass
class _Progress:
    head_step: int = -1
    verified: set[str] = field(default_factory=set)


def _check_repository(
    path: Path,
    seed: int,
    log: Path,
    progress: _Progress,
    where: str,
    *,
    full: bool = False,
    rehash: bool = True,
) -> None:
    """Everything a crash must preserve. ``full``: re-read every commit, not just new ones;
    ``rehash``: let fsck re-hash every stored object (reads re-hash what they read anyway)."""
    with Repository(path) as repo:
        report = repo.fsck(verify_objects=rehash)
        assert report.ok, f"{where}: fsck found damage\n{report}"
        head = repo.head
        assert head.branch == "main", where
        returned = _read_commit_log(log)
        if head.commit_hash is None:
            assert not returned, f"{where}: commit() returned {returned} but main is unborn"
            assert progress.head_step == -1, f"{where}: main lost all its commits"
            assert repo.log() == []
            return
        assert repo.resolve_ref("HEAD") == head.commit_hash, where
        history = repo.log()
        assert history[0].commit_hash == head.commit_hash, where
        steps = [_step_of(c) for c in history]
        assert steps == list(range(steps[0], -1, -1)), f"{where}: history steps {steps}"
        for newer, older in itertools.pairwise(history):
            assert newer.parent_hashes == [older.commit_hash], f"{where}: history not linear"
        assert history[-1].parent_hashes == [], where
        assert steps[0] >= progress.head_step, (
            f"{where}: main moved back from step {progress.head_step} to {steps[0]}"
        )
        step_by_hash = {c.commit_hash: s for c, s in zip(history, steps, strict=True)}
        for step, commit_hash in returned:
            assert step_by_hash.get(commit_hash) == step, (
                f"{where}: commit {commit_hash} (step {step}) was returned by commit() "
                "but is not in main's history"
            )
        for commit, step in zip(history, steps, strict=True):
            if full or commit.commit_hash not in progress.verified or commit is history[0]:
                expected = _snapshot(seed, step)
                actual = repo.get_all_weights(commit.commit_hash)
                assert sorted(actual) == sorted(expected), f"{where}: step {step} names"
                for name, array in expected.items():
                    try:
                        assert_bit_exact(actual[name].data, array)
                    except AssertionError as err:
                        raise AssertionError(f"{where}: step {step} {name!r} differs") from err
                progress.verified.add(commit.commit_hash)
        progress.head_step = steps[0]


def _new_repository(tmp_path: Path) -> tuple[Path, Path]:
    path = tmp_path / "project"
    Repository(path, init=True).close()
    return path, tmp_path / "committed.log"


KILLS_PER_SEED = 7
MAX_DELAY = 0.35  # seconds; a stage+stage+commit cycle takes ~0.05-0.2 s


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 202, 303, 404])
def test_sigkill_after_random_delay(zygote: _Zygote, tmp_path: Path, seed: int) -> None:
    path, log = _new_repository(tmp_path)
    rng = random.Random(seed)
    progress = _Progress()
    for kill in range(KILLS_PER_SEED):
        delay = rng.uniform(0.0, MAX_DELAY)
        where = f"seed {seed}, kill {kill} after {delay:.3f}s"
        child = zygote.spawn("loop", path, seed, log)
        assert child.ready == "R", f"{where}: child did not start\n{child.log()}"
        status = zygote.kill(child, delay)
        assert status == -signal.SIGKILL, f"{where}: child exited by itself\n{child.log()}"
        _check_repository(path, seed, log, progress, where)
    # Still writable after all those crashes, and every commit still reads back bit-exactly.
    child = zygote.spawn("loop", path, seed, log, max_steps=2)
    assert zygote.wait(child) == 0, f"seed {seed}: commit after crashes failed\n{child.log()}"
    before = progress.head_step
    _check_repository(path, seed, log, progress, f"seed {seed}, final", full=True)
    assert progress.head_step == before + 2


SWEEP_SEED = 505


@dataclass
class _SweepRun:
    target: int
    base: Path
    child: _Child

    @property
    def path(self) -> Path:
        return self.base / "project"

    @property
    def log(self) -> Path:
        return self.base / "committed.log"


def _launch_sweep_run(zygote: _Zygote, root: Path, template: Path | None, target: int) -> _SweepRun:
    """A child that kills itself right after its ``target``-th durable write: on a new
    repository (``template`` None), or on a copy of ``template`` counting only the writes
    that ``commit()`` makes (staging works the same whether or not HEAD exists)."""
    base = root / f"write-{target}"
    if template is None:
        _new_repository(base)
    else:
        shutil.copytree(template, base)
    child = zygote.spawn(
        "inject",
        base / "project",
        SWEEP_SEED,
        base / "committed.log",
        target=target,
        in_commit_only=template is not None,
        max_steps=2,
    )
    assert child.ready == "R", f"write #{target}: child did not start\n{child.log()}"
    return _SweepRun(target, base, child)


@dataclass
class _CarryOn:
    """A child committing on top of what a sweep kill left."""

    run: _SweepRun
    child: _Child
    progress: _Progress
    where: str

    def finish(self, zygote: _Zygote) -> None:
        status = zygote.wait(self.child)
        assert status == 0, f"{self.where}: the next commit failed\n{self.child.log()}"
        where = f"{self.where}, then a commit"
        _check_repository(
            self.run.path, SWEEP_SEED, self.run.log, self.progress, where, rehash=False
        )
        shutil.rmtree(self.run.base)


@pytest.mark.slow
def test_sigkill_at_each_durable_write(zygote: _Zygote, tmp_path: Path) -> None:
    """Kill after durable write #1, #2, ... of the first stage+stage+commit of a new repository,
    then after each write of a later commit (on a copy of a repository holding the first),
    until the kill lands in the next step: every operation of the publish protocol is hit,
    in order, for a branch being created and for a branch being moved."""
    seed = SWEEP_SEED
    zygote.warm(seed, [0, 1, 2])
    template = tmp_path / "template"
    _new_repository(template)
    child = zygote.spawn(
        "loop", template / "project", seed, template / "committed.log", max_steps=1
    )
    assert zygote.wait(child) == 0, child.log()
    kill_points: list[str] = []
    for step, start in ((0, None), (1, template)):
        root = tmp_path / f"step-{step}"
        run = _launch_sweep_run(zygote, root, start, 1)
        pending: _CarryOn | None = None
        while True:
            # Children run while the test checks the previous one's repository (two cores).
            upcoming = _launch_sweep_run(zygote, root, start, run.target + 1)
            status = zygote.wait(run.child)
            output = run.child.log()
            match = re.search(r"kill point #\d+ in step (\d+): .*", output)
            assert status == -signal.SIGKILL and match, f"write #{run.target}: not killed\n{output}"
            if int(match.group(1)) > step:
                zygote.wait(upcoming.child)
                break
            where = f"seed {seed}, {match.group(0)}"
            kill_points.append(match.group(0))
            progress = _Progress()
            _check_repository(run.path, seed, run.log, progress, where)
            # Carry on from whatever the crash left: a new process commits the next step.
            child = zygote.spawn("loop", run.path, seed, run.log, max_steps=1)
            if pending is not None:
                pending.finish(zygote)
            pending = _CarryOn(run, child, progress, where)
            run = upcoming
        if pending is not None:
            pending.finish(zygote)
    # The sweep really went through the whole publish protocol.
    text = "\n".join(kill_points)
    staging = ["pack dataset write", "fsync(tmp/pack-", "replace(objects/packs/pack-"]
    staging += ["replace(objects/packs/pack-", "replace(staging/staged.json)"]
    committing = ["replace(objects/commits/", "replace(refs/heads/main)", "fsync(refs/heads)"]
    committing += ["write(logs/refs/heads/main)", "fsync(logs/HEAD)", "fsync(staging)"]
    for step, operations in ((0, staging + committing), (1, committing)):
        for operation in operations:
            assert f"in step {step}: after {operation}" in text, (step, operation, text)


def _lock_is_held(path: Path) -> bool:
    """Whether some process holds the repository lock (asked without waiting)."""
    try:
        with RepositoryLock(path / ".coral" / "lock", timeout=0.0).hold():
            return False
    except LockTimeoutError:
        return True


@pytest.mark.slow
def test_sigkill_while_holding_the_lock(zygote: _Zygote, tmp_path: Path) -> None:
    seed = 606
    path, log = _new_repository(tmp_path)
    with Repository(path) as repo:
        repo.config.set("core.lock_timeout", 20.0)  # a stale lock fails fast, not after 60 s
    progress = _Progress()
    first = zygote.spawn("loop", path, seed, log, max_steps=1)
    assert zygote.wait(first) == 0, first.log()

    holder = zygote.spawn("hang", path, seed, log)
    assert holder.ready == "L", f"child never reached commit()\n{holder.log()}"
    assert _lock_is_held(path), "the child is inside commit() but does not hold the lock"
    waiter = zygote.spawn("loop", path, seed, log, max_steps=1)
    assert waiter.ready == "R", waiter.log()
    time.sleep(0.5)  # a whole cycle takes ~0.15 s: the waiter is blocked on the lock
    assert zygote.poll(waiter) is None, f"committed while the lock was held\n{waiter.log()}"
    assert zygote.kill(holder, 0.0) == -signal.SIGKILL
    assert zygote.wait(waiter, timeout=30) == 0, f"waiter failed after the kill\n{waiter.log()}"
    assert not _lock_is_held(path)
    _check_repository(path, seed, log, progress, "after killing the lock holder")
    assert progress.head_step == 1

    # A brand-new interpreter (not a fork of anything that touched the repo) commits too.
    fresh = subprocess.run(
        [sys.executable, "-c", _entry_code("_fresh_process_main"), *map(str, (path, seed, log, 1))],
        env=os.environ.copy(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fresh.returncode == 0, fresh.stderr
    _check_repository(path, seed, log, progress, "fresh process", full=True)
    assert progress.head_step == 2
