"""``ModelFiles``: what travels with a model besides its weights (config and tokenizer
files, optimizer state), stored under the reserved names of :mod:`coral.records.assets`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coral.errors import InvalidTypeError
from coral.history.service import History
from coral.records.assets import (
    OPTIMIZER_PREFIX,
    as_file_array,
    file_path,
    file_weight_name,
    is_file_name,
)
from coral.records.parts import RepositoryParts
from coral.workspace.workspace import Workspace


class ModelFiles:
    """Stages and reads a model's files and its optimizer state through a workspace."""

    def __init__(self, parts: RepositoryParts, history: History, workspace: Workspace) -> None:
        self._parts = parts
        self._history = history
        self._workspace = workspace

    def stage_files(self, files: Mapping[str, bytes]) -> dict[str, str]:
        """Stage non-tensor files that belong with the model (``config.json``, tokenizer
        files), by relative path. They are committed, carried forward, pushed and pulled with
        the weights; ``get_files`` reads them back and ``get_all_weights`` leaves them out.

        Returns:
            ``{path: object_id}``.

        Raises:
            InvalidTypeError: contents that are not ``bytes``, ``bytearray`` or
                ``memoryview`` (checked for every file before anything is stored).
        """
        arrays = {
            file_weight_name(path): as_file_array(bytes(_file_bytes(path, data)))
            for path, data in files.items()
        }
        stored = self._workspace.stage_entries(arrays)
        return {file_path(name): oid for name, oid in stored.items()}

    def get_files(self, ref: str | None = None) -> dict[str, bytes]:
        """The model files of a commit (default HEAD), by relative path, byte for byte."""
        commit = self._history.commit(ref or "HEAD")
        names = sorted(n for n in commit.weight_hashes if is_file_name(n))
        arrays = self._parts.store.read_many([commit.weight_hashes[n] for n in names])
        return {file_path(n): a.tobytes() for n, a in zip(names, arrays, strict=True)}

    def stage_optimizer_state(self, optimizer: Any) -> dict[str, str]:
        """Stage a PyTorch optimizer's state (moments, step counts, param groups) for the
        next commit, bit-exact, delta-encoded against the last one stored. Entries of an
        earlier optimizer state that this one lacks are staged for removal.

        Returns:
            ``{entry name: object_id}``.
        """
        from coral.integrations.optimizer import optimizer_entries

        return self.stage_optimizer_entries(optimizer_entries(optimizer))

    def stage_optimizer_entries(self, entries: dict[str, Any]) -> dict[str, str]:
        """Stage optimizer state already taken (``optimizer_entries``: a background commit
        takes it in the call and stages it later)."""
        stored = self._workspace.stage_entries(entries)
        head = self._workspace.parent()
        before = set(head.weight_hashes if head else ()) | set(
            self._workspace.staging.read().weights
        )
        stale = {n for n in before if n.startswith(OPTIMIZER_PREFIX)} - entries.keys()
        if stale:
            self._workspace.stage_removal(stale)
        return stored

    def load_optimizer_state(self, optimizer: Any, ref: str | None = None) -> None:
        """Restore ``optimizer`` from the state stored in a commit (default HEAD)."""
        from coral.integrations.optimizer import load_optimizer_entries

        commit = self._history.commit(ref or "HEAD")
        names = sorted(n for n in commit.weight_hashes if n.startswith(OPTIMIZER_PREFIX))
        arrays = self._parts.store.read_many([commit.weight_hashes[n] for n in names])
        load_optimizer_entries(optimizer, dict(zip(names, arrays, strict=True)))


def _file_bytes(path: str, data: object) -> bytes | bytearray | memoryview:
    # bytes(data) would also take a str with an encoding error, an int (that many zero bytes)
    # or a list of ints: accept only what is already bytes.
    if not isinstance(data, bytes | bytearray | memoryview):
        hint = "encode text first: text.encode()" if isinstance(data, str) else "read it as bytes"
        raise InvalidTypeError(
            f"model file {path!r} must be bytes (or bytearray, memoryview), got "
            f"{type(data).__name__}; {hint}"
        )
    return data
