"""Rebuilding pack indexes from the packs themselves, safely: the HDF5 parsing runs in a
child process (:mod:`.pack_metadata`) that is killed when it hangs or replaced when it
crashes, and every entry it returns is validated before it is trusted."""

from __future__ import annotations

import atexit
import select
import subprocess
import sys
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from coral.storage import forksafe, pack_metadata
from coral.storage.fsutil import loads_json
from coral.storage.objects import ObjectInfo
from coral.storage.validation import checked_info

PARSE_TIMEOUT = 30.0
"""Seconds one pack's metadata may take (a healthy pack of 10,000 objects takes < 1 s)."""


def read_pack_indexes(
    paths: Iterable[Path], timeout: float | None = None
) -> dict[Path, list[ObjectInfo] | str]:
    """Each pack's objects, rebuilt from its own attributes, or why that is impossible.

    Args:
        timeout: seconds per pack (default :data:`PARSE_TIMEOUT`).
    """
    timeout = PARSE_TIMEOUT if timeout is None else timeout
    results: dict[Path, list[ObjectInfo] | str] = {}
    with _READER.lock:
        for path in paths:
            answer = _READER.parser().ask(path, timeout)
            if isinstance(answer, dict):
                results[path] = _infos(path, answer)
            else:
                results[path] = answer
                _READER.discard()  # it hung or died: the next pack gets a fresh one
    return results


class _SharedParser:
    """One parser process per Coral process, started on first use and kept (importing h5py
    takes a third of a second; a parse then takes milliseconds)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._parser: _Parser | None = None
        forksafe.register(self)
        atexit.register(self.discard)

    def _after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        self._parser = None  # the parent's; the child starts its own when it needs one

    def parser(self) -> _Parser:
        if self._parser is None:
            self._parser = _Parser()
        return self._parser

    def discard(self) -> None:
        if self._parser is not None:
            self._parser.close()
            self._parser = None


def _infos(path: Path, answer: dict[str, Any]) -> list[ObjectInfo] | str:
    if "error" in answer:
        return f"HDF5 cannot read it ({answer['error']})"
    infos = []
    try:
        for oid, raw in answer["entries"].items():
            entry = {**raw, "params": loads_json(raw["params"]), "bases": loads_json(raw["bases"])}
            info = checked_info(oid, entry, path.name)
            if raw["dataset_bytes"] != info.stored_nbytes:
                return f"object {oid}'s dataset holds {raw['dataset_bytes']} bytes, its " + (
                    f"attributes say {info.stored_nbytes}"
                )
            infos.append(info)
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        return f"its metadata is invalid ({err})"
    return infos


class _Parser:
    """A child process running :mod:`.pack_metadata`."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-I", pack_metadata.__file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def ask(self, path: Path, timeout: float) -> dict[str, Any] | str:
        """The child's answer for one pack, or a sentence saying why there is none."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        try:
            self._proc.stdin.write(f"{path}\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return "the HDF5 reader process died before reading it"
        ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
        if not ready:
            return f"HDF5 did not finish reading its metadata in {timeout:g}s (damaged)"
        line = self._proc.stdout.readline()
        if not line:
            return "HDF5 crashed reading its metadata (damaged)"
        answer: dict[str, Any] = loads_json(line)
        return answer

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()
        for stream in (self._proc.stdin, self._proc.stdout):
            if stream is not None:
                stream.close()


_READER = _SharedParser()
