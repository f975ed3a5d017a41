"""Weights from model files: safetensors, NumPy ``.npz`` and PyTorch checkpoints, by suffix.

PyTorch files are read with ``torch.load(weights_only=True)``: tensors and plain containers
only, never arbitrary pickled objects (a crafted ``__reduce__`` is refused, not run).
Checkpoints that nest their weights (``{"state_dict": {...}, "epoch": 3}``) are flattened to
dotted names; entries that are not tensors are reported, not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coral.errors import InvalidValueError

TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")
SUFFIXES = (".safetensors", ".npz", *TORCH_SUFFIXES)


@dataclass
class LoadedFile:
    """The tensors of one file, and the entries that were not tensors (skipped)."""

    weights: dict[str, Any]
    skipped: list[str] = field(default_factory=list)


def load_weights_file(path: str | Path, key: str | None = None) -> LoadedFile:
    """The weights in ``path``; ``key`` picks one entry of a nested checkpoint
    (``state_dict``, ``model``...) before flattening."""
    source = Path(path)
    if source.is_dir():
        raise InvalidValueError(
            f"{source} is a folder: read it with coral.integrations.folders.read_model_folder "
            "(coral add FOLDER does)"
        )
    if not source.is_file():
        raise InvalidValueError(f"{source}: no such file")
    suffix = source.suffix.lower()
    if suffix == ".safetensors":
        from coral.integrations.safetensors import load_safetensors

        return LoadedFile(dict(load_safetensors(source)))
    if suffix == ".npz":
        from coral.integrations.npz import load_npz

        return LoadedFile(dict(load_npz(source)))
    if suffix in TORCH_SUFFIXES:
        return _torch_checkpoint(source, key)
    raise InvalidValueError(
        f"{source}: unknown weight file type {suffix!r}; Coral reads {', '.join(SUFFIXES)}"
    )


def _torch_checkpoint(source: Path, key: str | None) -> LoadedFile:
    from coral.core.arrays import as_numpy, is_torch_tensor
    from coral.integrations.pytorch import _torch

    torch = _torch()
    try:
        data = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises UnpicklingError and friends for refused content
        raise InvalidValueError(
            f"{source} cannot be loaded safely (weights_only=True refused it: "
            f"{str(err).splitlines()[0][:200]}); Coral never unpickles arbitrary objects"
        ) from None
    if key is not None:
        if not isinstance(data, Mapping) or key not in data:
            raise InvalidValueError(f"{source} has no entry {key!r}")
        data = data[key]
    loaded = LoadedFile({})

    def walk(value: Any, prefix: str) -> None:
        if is_torch_tensor(value):
            loaded.weights[prefix] = as_numpy(value)
        elif isinstance(value, Mapping):
            for name, inner in value.items():
                walk(inner, f"{prefix}.{name}" if prefix else str(name))
        elif isinstance(value, np.ndarray):
            loaded.weights[prefix] = value
        else:
            loaded.skipped.append(prefix or "(top level)")

    walk(data, "")
    if not loaded.weights:
        raise InvalidValueError(f"{source} holds no tensors")
    return loaded
