"""``RepoParts``: the plumbing of one repository, handed as one to the tools that walk all of
it (fsck, gc) instead of as a long list of arguments."""

from __future__ import annotations

from dataclasses import dataclass

from coral.delta.similarity import SimilarityIndex
from coral.records.commits import CommitStore
from coral.records.config import Config
from coral.records.layout import RepoLayout
from coral.records.refs import RefStore
from coral.records.staging import StagingArea
from coral.records.tags import VersionStore
from coral.records.tracking import TrackingRefs
from coral.storage.locking import RepositoryLock
from coral.storage.pack_store import PackStore


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
