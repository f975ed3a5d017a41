"""The parts of a local repository a transfer reads and writes, handed over explicitly (so
this layer never reaches into the repository's private attributes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coral.records.branch import BranchManager
from coral.records.commits import CommitStore
from coral.records.parts import RepositoryParts
from coral.records.refs import RefStore
from coral.records.staging import StagingArea
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.store import TensorStore


@dataclass(frozen=True)
class LocalSide:
    """The local end of a transfer: the store and records it reads and writes, and who
    writes (for the reflog)."""

    store: TensorStore
    commits: CommitStore
    refs: RefStore
    branches: BranchManager  # creates branches: refuses a tag's name, as locally
    versions: VersionStore
    staging: StagingArea
    tracking: TrackingRefs
    tmp_dir: Path
    who: str

    @classmethod
    def from_parts(cls, parts: RepositoryParts, branches: BranchManager) -> LocalSide:
        """The local end over a repository's parts (``repo.parts``, ``repo.branch_manager``)."""
        return cls(
            store=parts.store,
            commits=parts.commits,
            refs=parts.refs,
            branches=branches,
            versions=parts.versions,
            staging=parts.staging,
            tracking=parts.tracking,
            tmp_dir=parts.tmp_dir,
            who=parts.who(),
        )

    def parents(self, commit_hash: str) -> list[str]:
        return list(self.commits.get(commit_hash).parent_hashes)

    def branch_heads(self) -> dict[str, str]:
        return {b.name: b.commit_hash for b in self.refs.list_branches()}
