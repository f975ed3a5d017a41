"""``Repository.stage_files`` and ``get_files``: the non-tensor files of a model
(``config.json``, tokenizer files), stored as described in :mod:`.assets`."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from coral.storage.pack_store import PackStore
from coral.version_control.assets import as_file_array, file_path, file_weight_name, is_file_name
from coral.version_control.commit import Commit


class ModelFileCommands:
    """The model-file methods of :class:`~coral.version_control.Repository` (a mixin)."""

    store: PackStore
    get_commit: Callable[..., Commit]
    _stage: Callable[..., dict[str, str]]

    def stage_files(self, files: Mapping[str, bytes]) -> dict[str, str]:
        """Stage non-tensor files that belong with the model (``config.json``, tokenizer
        files), by relative path. They are committed, carried forward, pushed and pulled with
        the weights; ``get_files`` reads them back and ``get_all_weights`` leaves them out.

        Returns:
            ``{path: object_id}``.
        """
        arrays = {
            file_weight_name(path): as_file_array(bytes(data)) for path, data in files.items()
        }
        stored = self._stage(arrays)
        return {file_path(name): oid for name, oid in stored.items()}

    def get_files(self, ref: str | None = None) -> dict[str, bytes]:
        """The model files of a commit (default HEAD), by relative path, byte for byte."""
        commit = self.get_commit(ref or "HEAD")
        names = sorted(n for n in commit.weight_hashes if is_file_name(n))
        arrays = self.store.read_many([commit.weight_hashes[n] for n in names])
        return {file_path(n): a.tobytes() for n, a in zip(names, arrays, strict=True)}
