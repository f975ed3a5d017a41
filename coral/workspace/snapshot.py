"""The next commit's weights: what was staged since the last commit, as one snapshot.

A commit is the snapshot that was staged, not HEAD with the staged entries on top: a model
that dropped a layer commits without it, and a commit that restages the weights but not the
optimizer drops the old optimizer moments instead of pairing them with new weights. Two
things carry forward from the parent commit:

* model files (``__file__/...``: config, tokenizer), which describe the model rather than a
  training state, unless restaged or staged for removal;
* every entry, when the staging area holds no weights (only files, optimizer state or
  removals: an update of those alone) or was marked ``partial`` (``stage_weights(...,
  partial=True)``: a deliberate update of some weights).

Staged removals apply last. :func:`next_snapshot` is the one place this is decided; the
commit and ``status()`` both ask it.
"""

from __future__ import annotations

from dataclasses import dataclass

from coral.core.weight_tensor import WeightMetadata
from coral.records.assets import is_file_name, is_reserved_name
from coral.records.commit import Commit
from coral.records.staging import StagedChanges


@dataclass(frozen=True)
class Snapshot:
    """The weights (name -> object ID) and their metadata a commit would record."""

    weight_hashes: dict[str, str]
    weight_metadata: dict[str, WeightMetadata]


def carries_parent_weights(staged: StagedChanges) -> bool:
    """Whether the parent's unstaged weights (not only its model files) carry forward."""
    return staged.partial or not any(not is_reserved_name(n) for n in staged.weights)


def next_snapshot(parent: Commit | None, staged: StagedChanges) -> Snapshot:
    """The snapshot committing ``staged`` on top of ``parent`` records."""
    if parent is None:
        hashes: dict[str, str] = {}
    elif carries_parent_weights(staged):
        hashes = dict(parent.weight_hashes)
    else:
        hashes = {n: oid for n, oid in parent.weight_hashes.items() if is_file_name(n)}
    metadata = {n: m for n, m in (parent.weight_metadata if parent else {}).items() if n in hashes}
    for name in staged.removed:
        hashes.pop(name, None)
        metadata.pop(name, None)
    for name, entry in staged.weights.items():
        hashes[name] = entry.object_id
        metadata[name] = entry.metadata
    return Snapshot(hashes, metadata)
