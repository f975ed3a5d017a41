"""The public namespace of Coral's version control: ``from coral.version_control import
Repository``, and the other public names.

The code lives in layer packages (``coral.records``, ``coral.history``, ``coral.workspace``,
``coral.merge``, ``coral.maintenance``, ``coral.repository``); this module re-exports the
public names and imports each one when it is first used, so importing a record type does not
load the whole facade.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from coral.errors import MergeConflictError as MergeConflictError
    from coral.history.graph import VersionGraph as VersionGraph
    from coral.history.lazy import LazyWeights as LazyWeights
    from coral.history.show import CommitView as CommitView
    from coral.maintenance.fsck import FsckIssue as FsckIssue
    from coral.maintenance.fsck import FsckReport as FsckReport
    from coral.merge.plan import MergePlan as MergePlan
    from coral.merge.plan import MergeStrategy as MergeStrategy
    from coral.merge.plan import TensorMerge as TensorMerge
    from coral.records.branch import Branch as Branch
    from coral.records.branch import BranchManager as BranchManager
    from coral.records.commit import Commit as Commit
    from coral.records.commit import CommitMetadata as CommitMetadata
    from coral.records.tags import Version as Version
    from coral.repository import Repository as Repository
    from coral.workspace.status import Status as Status

_HOMES = {
    "Branch": "coral.records.branch",
    "BranchManager": "coral.records.branch",
    "Commit": "coral.records.commit",
    "CommitMetadata": "coral.records.commit",
    "CommitView": "coral.history.show",
    "FsckIssue": "coral.maintenance.fsck",
    "FsckReport": "coral.maintenance.fsck",
    "LazyWeights": "coral.history.lazy",
    "MergeConflictError": "coral.errors",
    "MergePlan": "coral.merge.plan",
    "MergeStrategy": "coral.merge.plan",
    "Repository": "coral.repository",
    "Status": "coral.workspace.status",
    "TensorMerge": "coral.merge.plan",
    "Version": "coral.records.tags",
    "VersionGraph": "coral.history.graph",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return __all__
