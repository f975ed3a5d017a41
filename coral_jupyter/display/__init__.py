"""Notebook displays: static HTML (no JavaScript) with a text fallback."""

from coral_jupyter.display.transfer import RemoteList, TransferReport
from coral_jupyter.display.views import (
    BranchList,
    CommitOutcome,
    DiffView,
    LogView,
    MergeOutcome,
    Notice,
    RepositorySummary,
    VersionList,
)

__all__ = [
    "BranchList",
    "CommitOutcome",
    "DiffView",
    "LogView",
    "MergeOutcome",
    "Notice",
    "RemoteList",
    "RepositorySummary",
    "TransferReport",
    "VersionList",
]
