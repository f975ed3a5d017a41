"""The merge record a merge commit keeps in ``metadata.extra["merge"]``, read back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def merge_arguments(record: Mapping[str, Any]) -> dict[str, Any]:
    """``repo.merge`` keyword arguments that re-run a recorded merge (from a merge commit's
    ``metadata.extra["merge"]``): same source commit, strategy, parameters and overrides."""
    return {
        "source_branch": record["source_commit"],
        "strategy": record["strategy"],
        **dict(record.get("params", {})),
        "overrides": dict(record.get("overrides", {})) or None,
        "non_float": record.get("non_float", "ours"),
        **({"allow_unrelated": True} if record.get("base") is None else {}),
    }
