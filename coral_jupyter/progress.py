"""Progress bars (``tqdm.auto``: a widget in notebooks, text elsewhere) for the operations that
take longer than a moment: staging and loading large models. Small jobs show no bar."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tqdm.auto import tqdm

from coral.core.weight_tensor import WeightTensor
from coral.version_control import Repository

BAR_BYTES = 256 << 20
"""Jobs smaller than this show no bar."""


def _nbytes(value: Any) -> int:
    return int(getattr(value, "nbytes", 0) or getattr(getattr(value, "data", None), "nbytes", 0))


def stage_with_progress(
    repo: Repository, weights: Mapping[str, Any], *, partial: bool = False
) -> dict[str, str]:
    total = sum(_nbytes(v) for v in weights.values())
    if total < BAR_BYTES:
        return repo.stage_weights(weights, partial=partial)
    with tqdm(total=total, unit="B", unit_scale=True, desc="staging") as bar:
        return repo.stage_weights(weights, partial=partial, progress=bar.update)


def read_weights(repo: Repository, ref: str, label: str | None = None) -> dict[str, WeightTensor]:
    """Every weight of ``ref``, with a bar (titled ``reading <label>``) when the commit is
    large."""
    commit = repo.get_commit(ref)
    total = sum(repo.store.info(oid).raw_nbytes for oid in commit.weight_hashes.values())
    if total < BAR_BYTES:
        return dict(repo.get_all_weights(ref))
    lazy = repo.get_all_weights(ref, lazy=True)
    out: dict[str, WeightTensor] = {}
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"reading {label or ref}") as bar:
        for name in lazy:
            out[name] = lazy[name]
            bar.update(out[name].nbytes)
    return out
