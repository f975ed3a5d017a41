"""Commits: immutable snapshots of a model's weights, identified by the hash of their content.

The commit hash is the first 32 hex digits of SHA-256 over the canonical JSON (sorted keys,
compact separators, ASCII) of everything in the commit except the hash itself: parents, the
name -> object ID map, metadata, delta map and per-weight metadata.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from coral.core.weight_tensor import WeightMetadata

COMMIT_HASH_LENGTH = 32
COMMIT_FORMAT = 1
CONTENT_KEYS = ("parent_hashes", "weight_hashes", "metadata", "delta_weights", "weight_metadata")
"""What a commit hash covers: everything in the file but ``format`` and ``commit_hash``."""
_COMMIT_HASH_RE = re.compile(r"[0-9a-f]{32}")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def is_commit_hash(text: object) -> bool:
    """Exactly 32 lowercase hex digits (``fullmatch``: a trailing newline is not a hash)."""
    return isinstance(text, str) and _COMMIT_HASH_RE.fullmatch(text) is not None


@dataclass
class CommitMetadata:
    """Who made a commit, when, and why.

    ``extra`` holds machine-readable facts about how the commit was made (a merge's strategy
    and parameters, whether it holds lossy objects); it is part of the commit hash.
    """

    author: str
    email: str
    message: str
    timestamp: datetime = field(default_factory=now_utc)
    tags: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "author": self.author,
            "email": self.email,
            "message": self.message,
            "timestamp": self.timestamp.isoformat(),
            "tags": list(self.tags),
        }
        if self.extra:
            out["extra"] = self.extra
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CommitMetadata:
        return cls(
            author=data["author"],
            email=data["email"],
            message=data["message"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            tags=list(data.get("tags", [])),
            extra=dict(data.get("extra", {})),
        )


@dataclass
class Commit:
    """One node of the version graph.

    Attributes:
        commit_hash: 32 hex digits of SHA-256 over the content.
        parent_hashes: none for a root commit, one normally, two for a merge.
        weight_hashes: every weight of the snapshot, name -> object ID.
        metadata: author, message, time, labels.
        delta_weights: name -> delta base, for weights stored as deltas.
        weight_metadata: name -> shape, dtype, layer type and other per-weight facts.
    """

    commit_hash: str
    parent_hashes: list[str]
    weight_hashes: dict[str, str]
    metadata: CommitMetadata
    delta_weights: dict[str, str] = field(default_factory=dict)
    weight_metadata: dict[str, WeightMetadata] = field(default_factory=dict)

    @property
    def is_merge_commit(self) -> bool:
        return len(self.parent_hashes) > 1

    @property
    def is_root_commit(self) -> bool:
        return not self.parent_hashes

    @property
    def short_hash(self) -> str:
        return self.commit_hash[:8]

    def copy(self) -> Commit:
        """An independent copy (weight metadata is immutable and shared)."""
        return Commit(
            commit_hash=self.commit_hash,
            parent_hashes=list(self.parent_hashes),
            weight_hashes=dict(self.weight_hashes),
            metadata=replace(
                self.metadata, tags=list(self.metadata.tags), extra=dict(self.metadata.extra)
            ),
            delta_weights=dict(self.delta_weights),
            weight_metadata=dict(self.weight_metadata),
        )

    def content(self) -> dict[str, Any]:
        """Everything the hash covers."""
        return {
            "parent_hashes": list(self.parent_hashes),
            "weight_hashes": dict(self.weight_hashes),
            "metadata": self.metadata.to_dict(),
            "delta_weights": dict(self.delta_weights),
            "weight_metadata": {
                name: {k: v for k, v in md.to_dict().items() if k != "name"}
                for name, md in self.weight_metadata.items()
            },
        }

    def compute_hash(self) -> str:
        return hash_content(self.content())

    def to_dict(self) -> dict[str, Any]:
        return {"format": COMMIT_FORMAT, "commit_hash": self.commit_hash, **self.content()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Commit:
        return cls(
            commit_hash=data["commit_hash"],
            parent_hashes=list(data["parent_hashes"]),
            weight_hashes=dict(data["weight_hashes"]),
            metadata=CommitMetadata.from_dict(data["metadata"]),
            delta_weights=dict(data.get("delta_weights", {})),
            weight_metadata={
                name: WeightMetadata.from_dict({"name": name, **md})
                for name, md in data.get("weight_metadata", {}).items()
            },
        )

    @classmethod
    def create(
        cls,
        parent_hashes: list[str],
        weight_hashes: dict[str, str],
        metadata: CommitMetadata,
        weight_metadata: dict[str, WeightMetadata] | None = None,
        delta_weights: dict[str, str] | None = None,
    ) -> Commit:
        """Build a commit and compute its hash."""
        commit = cls(
            commit_hash="",
            parent_hashes=list(parent_hashes),
            weight_hashes=dict(weight_hashes),
            metadata=metadata,
            delta_weights=dict(delta_weights or {}),
            weight_metadata=dict(weight_metadata or {}),
        )
        commit.commit_hash = commit.compute_hash()
        return commit

    def __repr__(self) -> str:
        first_line = self.metadata.message.splitlines()[0] if self.metadata.message else ""
        return (
            f"Commit({self.short_hash} {first_line!r}, {len(self.weight_hashes)} weights, "
            f"parents={[p[:8] for p in self.parent_hashes]})"
        )


def hash_content(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:COMMIT_HASH_LENGTH]
