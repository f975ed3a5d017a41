"""Git for weights: commits, branches, tags, history and the :class:`Repository` facade."""

from coral.errors import MergeConflictError
from coral.version_control.branch import Branch, BranchManager
from coral.version_control.commit import Commit, CommitMetadata
from coral.version_control.fsck import FsckIssue, FsckReport
from coral.version_control.graph import VersionGraph
from coral.version_control.lazy import LazyWeights
from coral.version_control.merge import MergePlan, MergeStrategy, TensorMerge
from coral.version_control.repository import Repository
from coral.version_control.show import CommitView
from coral.version_control.status import Status
from coral.version_control.version import Version

__all__ = [
    "Branch",
    "BranchManager",
    "Commit",
    "CommitMetadata",
    "CommitView",
    "FsckIssue",
    "FsckReport",
    "LazyWeights",
    "MergeConflictError",
    "MergePlan",
    "MergeStrategy",
    "Repository",
    "Status",
    "TensorMerge",
    "Version",
    "VersionGraph",
]
