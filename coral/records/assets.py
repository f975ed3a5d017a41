"""Entries that travel with a model but are not its weights, under reserved names.

* Non-tensor files (``config.json``, tokenizer files...): 1-D uint8 objects named
  ``__file__/<relative path>``; ``repo.get_files(ref)`` returns them.
* Optimizer state: ``__optimizer__/...`` (see :mod:`coral.integrations.optimizer`).

They are stored like weights, so they are snapshotted, deduplicated, delta-encoded, carried
into the next commit, merged (never averaged: integers follow OURS/THEIRS), pushed, pulled and
verified exactly like tensors, with no separate machinery to get wrong. They are kept out of
what a model loads: ``get_all_weights`` leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from coral.errors import InvalidValueError

FILE_PREFIX = "__file__/"
OPTIMIZER_PREFIX = "__optimizer__/"
RESERVED_PREFIXES = (FILE_PREFIX, OPTIMIZER_PREFIX)
MAX_FILE_BYTES = 256 << 20  # larger "config" files are most likely weights in disguise


def is_file_name(name: str) -> bool:
    return name.startswith(FILE_PREFIX)


def is_reserved_name(name: str) -> bool:
    return name.startswith(RESERVED_PREFIXES)


def file_weight_name(path: str) -> str:
    """The stored name of a relative path (POSIX separators; no absolute paths or '..')."""
    parts = path.replace("\\", "/").split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise InvalidValueError(f"a model file path must be relative and plain, got {path!r}")
    return FILE_PREFIX + "/".join(parts)


def file_path(name: str) -> str:
    return name[len(FILE_PREFIX) :]


def as_file_array(data: bytes) -> np.ndarray:
    if len(data) > MAX_FILE_BYTES:
        raise InvalidValueError(
            f"a model file of {len(data)} bytes is too large to keep as a file "
            f"(at most {MAX_FILE_BYTES}); store tensors as weights"
        )
    array: np.ndarray = np.frombuffer(data, dtype=np.uint8).copy()
    return array


def weight_names(names: Iterable[str]) -> list[str]:
    """``names`` without the files and optimizer state, sorted."""
    return sorted(n for n in names if not is_reserved_name(n))
