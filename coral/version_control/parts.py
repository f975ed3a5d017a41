"""``RepoParts``: the plumbing of one repository, handed as one to the tools that walk all of
it (fsck, gc) instead of as a long list of arguments."""

from __future__ import annotations

from dataclasses import dataclass

from coral.delta.similarity import SimilarityIndex
from coral.storage.locking import RepositoryLock
from coral.storage.pack_store import PackStore
from coral.version_control.commit_store import CommitStore
from coral.version_control.config import Config
from coral.version_control.layout import RepoLayout
from coral.version_control.refs import RefStore
from coral.version_control.staging import StagingArea
from coral.version_control.tracking import TrackingRefs
from coral.version_control.version import VersionStore


@dataclass(frozen=True)
class RepoParts:
    layout: RepoLayout
    config: Config
    lock: RepositoryLock
    store: PackStore
    commits: CommitStore
    refs: RefStore
    versions: VersionStore
    staging: StagingArea
    tracking: TrackingRefs
    similarity: SimilarityIndex
