"""Hugging Face-style model folders: safetensors shards plus the files a model needs around
them (``config.json``, tokenizer files...). A folder is staged as its tensors plus those
files (see :mod:`coral.records.assets`), and exported back as a folder that
``from_pretrained`` loads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coral.core.weight_tensor import WeightTensor
from coral.errors import InvalidValueError
from coral.integrations.safetensors import load_safetensors, save_safetensors
from coral.records.assets import MAX_FILE_BYTES
from coral.storage.fsutil import loads_json

INDEX = "model.safetensors.index.json"
# Other serialisations of the same weights: left out when safetensors are there.
_WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf")
SHARD_BYTES = 5 << 30  # transformers' default max_shard_size


@dataclass
class ModelFolder:
    """A model folder read for staging: its tensors, its other files by relative path, and
    what was skipped (other serialisations of the same weights)."""

    weights: dict[str, np.ndarray]
    files: dict[str, bytes]
    skipped: list[str] = field(default_factory=list)


def read_model_folder(folder: str | Path) -> ModelFolder:
    """The tensors of a folder's safetensors files (the shards its index lists, else every
    ``*.safetensors`` at its top) and its other files, by relative path. Hidden files and
    folders (``.git``, ``.cache``) and other serialisations of the weights are skipped."""
    root = Path(folder)
    shards = _shards(root)
    if not shards:
        raise InvalidValueError(f"{root} holds no .safetensors files")
    weights: dict[str, np.ndarray] = {}
    for shard in shards:
        for name, array in load_safetensors(shard).items():
            if name in weights:
                raise InvalidValueError(f"{root}: tensor {name!r} is in more than one shard")
            weights[name] = array
    loaded = ModelFolder(weights, {})
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix == ".safetensors" or path.name == INDEX:
            continue
        if path.suffix in _WEIGHT_SUFFIXES or path.stat().st_size > MAX_FILE_BYTES:
            loaded.skipped.append(relative.as_posix())
            continue
        loaded.files[relative.as_posix()] = path.read_bytes()
    return loaded


def _shards(root: Path) -> list[Path]:
    index = root / INDEX
    if index.is_file():
        try:
            weight_map = loads_json(index.read_text())["weight_map"]
            names = sorted(set(weight_map.values()))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise InvalidValueError(f"{index} is not a safetensors index") from None
        shards = [root / name for name in names]
        missing = [s.name for s in shards if not s.is_file() or s.parent != root]
        if missing:
            raise InvalidValueError(f"{index} lists shards that are not there: {missing[:3]}")
        return shards
    return sorted(root.glob("*.safetensors"))


def write_model_folder(
    folder: str | Path,
    weights: Mapping[str, WeightTensor | np.ndarray],
    files: Mapping[str, bytes],
    metadata: Mapping[str, str] | None = None,
    shard_bytes: int = SHARD_BYTES,
) -> list[Path]:
    """Write ``weights`` as ``model.safetensors`` (or shards and an index, past
    ``shard_bytes``) and ``files`` beside them. Returns the paths written."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for relative, data in files.items():
        target = (root / relative).resolve()
        if root.resolve() not in target.parents:
            raise InvalidValueError(f"refusing to write {relative!r} outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(target)
    groups = _group(weights, shard_bytes)
    if len(groups) == 1:
        written.append(save_safetensors(groups[0], root / "model.safetensors", metadata))
        return written
    weight_map: dict[str, str] = {}
    total = 0
    for n, group in enumerate(groups, start=1):
        name = f"model-{n:05d}-of-{len(groups):05d}.safetensors"
        written.append(save_safetensors(group, root / name, metadata))
        weight_map.update(dict.fromkeys(group, name))
        total += sum(_nbytes(v) for v in group.values())
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (root / INDEX).write_text(json.dumps(index, indent=2))
    written.append(root / INDEX)
    return written


def _nbytes(value: Any) -> int:
    return int(value.data.nbytes if isinstance(value, WeightTensor) else np.asarray(value).nbytes)


def _group(
    weights: Mapping[str, WeightTensor | np.ndarray], shard_bytes: int
) -> list[dict[str, WeightTensor | np.ndarray]]:
    groups: list[dict[str, WeightTensor | np.ndarray]] = [{}]
    size = 0
    for name in sorted(weights):
        nbytes = _nbytes(weights[name])
        if groups[-1] and size + nbytes > shard_bytes:
            groups.append({})
            size = 0
        groups[-1][name] = weights[name]
        size += nbytes
    return groups
