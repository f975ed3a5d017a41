"""``coral.version_control.version``: the public reference implementation's import path for
tags (``Version``) and the commit graph (``VersionGraph``)."""

from coral.history.graph import VersionGraph
from coral.records.tags import Version

__all__ = ["Version", "VersionGraph"]
