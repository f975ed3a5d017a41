"""``coral.version_control.repository``: the public reference implementation's import path
for the facade and its merge names, kept so code written against it runs unchanged."""

from coral.errors import MergeConflictError
from coral.merge.plan import MergeStrategy
from coral.repository import Repository

__all__ = ["MergeConflictError", "MergeStrategy", "Repository"]
