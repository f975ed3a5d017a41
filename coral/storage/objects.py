"""What the store knows about one object, and what a writer is asked to store."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from coral.core.object_id import ObjectHasher
from coral.storage.codecs import Codec, Encoded


@dataclass(frozen=True)
class ObjectInfo:
    """Everything needed to decode one stored object, short of its payload.

    ``bases`` are the objects a delta is encoded against (newest first; empty for a full
    object) and ``depth`` how many deltas deep it sits (0 for a full object), which bounds how
    many objects a read decodes. ``location`` is where the payload lives (a pack name on disk)
    and ``offset`` where in it.
    """

    object_id: str
    dtype: str
    shape: tuple[int, ...]
    codec: str
    params: dict[str, Any] = field(default_factory=dict)
    raw_nbytes: int = 0
    stored_nbytes: int = 0
    bases: tuple[str, ...] = ()
    depth: int = 0
    location: str = ""
    offset: int = -1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "dtype": self.dtype,
            "shape": list(self.shape),
            "codec": self.codec,
            "params": self.params,
            "raw_nbytes": self.raw_nbytes,
            "stored_nbytes": self.stored_nbytes,
        }
        if self.bases:
            out["bases"] = list(self.bases)
            out["depth"] = self.depth
        if self.offset >= 0:
            out["offset"] = self.offset
        return out

    @classmethod
    def from_dict(cls, oid: str, data: dict[str, Any], location: str = "") -> ObjectInfo:
        return cls(
            object_id=oid,
            dtype=str(data["dtype"]),
            shape=tuple(int(d) for d in data["shape"]),
            codec=str(data["codec"]),
            params=dict(data.get("params", {})),
            raw_nbytes=int(data["raw_nbytes"]),
            stored_nbytes=int(data["stored_nbytes"]),
            bases=tuple(str(b) for b in data.get("bases", ())),
            depth=int(data.get("depth", 0)),
            location=location,
            offset=int(data.get("offset", -1)),
        )


@dataclass(frozen=True)
class WriteRequest:
    """One array for :meth:`ObjectWriter.add_many`.

    Attributes:
        array: canonical (C-contiguous, little-endian) array.
        object_id: its ID when known; a known ID promises the array is immutable.
        bases: objects it may be stored as a delta against, newest first (typically the same
            weight in the parent and grandparent commits).
    """

    array: np.ndarray
    object_id: str | None = None
    bases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Encoding:
    """A payload ready to write, with the bases it needs (none for a full object)."""

    encoded: Encoded
    bases: tuple[str, ...] = ()
    depth: int = 0


class DeltaPolicy(Protocol):
    """Decides whether and how to store an object as a delta (``coral.delta`` implements it)."""

    def encode(
        self,
        target: np.ndarray,
        candidates: tuple[str, ...],
        snapshot: ObjectHasher | None,
        full_codec: Codec,
    ) -> Encoding:
        """Encode ``target`` as a delta against some of ``candidates`` when that is smaller
        than ``full_codec``'s encoding, else as a full object. ``snapshot`` has the same
        meaning as for :meth:`Codec.encode`."""
        ...
