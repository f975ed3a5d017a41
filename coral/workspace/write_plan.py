"""How each staged weight is written: which delta bases to try, and lossy rounding if asked."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from coral.core.dtypes import canonical_array
from coral.core.weight_tensor import WeightMetadata, WeightTensor
from coral.delta.lossy import LOSSY_KIND, quantize_int8
from coral.delta.similarity import SimilarityIndex
from coral.errors import InvalidValueError
from coral.records.commit import Commit
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.storage.objects import WriteRequest
from coral.storage.store import TensorStore


class WritePlanner:
    """Plans the writes of one ``stage_weights`` call.

    Args:
        config: the repository configuration.
        store: the object store (for delta bases when rounding lossily).
        similarity: the similarity index (bases for weights new under their name).
        head: HEAD's commit, if any (its weights and its first parent's are the bases).
        commits: the commit store.
        lossy: the caller's ``lossy`` argument.
    """

    def __init__(
        self,
        config: Config,
        store: TensorStore,
        similarity: SimilarityIndex,
        head: Commit | None,
        commits: CommitStore,
        lossy: bool | None,
    ) -> None:
        self._store = store
        self._similarity = similarity
        self._versions = [head] if head is not None else []
        if head is not None and head.parent_hashes:
            self._versions.append(commits.get(head.parent_hashes[0]))
        self._threshold = float(config.get("core.similarity_threshold"))
        self._quantize = _lossy_requested(config, lossy)

    def plan(
        self, name: str, value: WeightTensor | np.ndarray, metadata: WeightMetadata
    ) -> tuple[str, WriteRequest, WeightMetadata]:
        """What to write for one staged weight (no copy of plain arrays: the writer encodes
        them at once, from private block copies)."""
        if isinstance(value, WeightTensor):
            array, known = value.data, value.content_hash
        else:
            array, known = canonical_array(value, copy=False), None
        bases = self._bases(name, array)
        if self._quantize and bases:
            reconstruction = quantize_int8(array, self._store.read_shared(bases[0]))
            if reconstruction is not None:
                reconstruction.flags.writeable = False
                array, known = reconstruction, None
                metadata = replace(metadata, extra={**metadata.extra, "lossy": LOSSY_KIND})
        return name, WriteRequest(array, known, bases), metadata

    def _bases(self, name: str, array: np.ndarray) -> tuple[str, ...]:
        """The same weight in HEAD and HEAD's first parent, else the most similar stored
        tensor of the same dtype and shape (only when delta encoding is on)."""
        by_name = tuple(
            oid for oid in (c.weight_hashes.get(name) for c in self._versions) if oid is not None
        )
        if by_name or self._store.delta_policy is None:
            return by_name
        similar = self._similarity.most_similar(array, self._threshold)
        return (similar,) if similar is not None else ()


def _lossy_requested(config: Config, lossy: bool | None) -> bool:
    if lossy is not None:
        if not isinstance(lossy, bool):
            raise InvalidValueError(f"lossy must be True or False, got {lossy!r}")
        return lossy
    if config.get("core.delta_type") != LOSSY_KIND:
        return False
    if not config.get("core.allow_lossy"):
        raise InvalidValueError(
            "core.delta_type is 'int8_quantized', which is lossy: weights would not read "
            "back bit-exact. Pass lossy=True to stage_weights, or set core.allow_lossy to "
            "true, to accept that (or choose a lossless core.delta_type)"
        )
    return True
