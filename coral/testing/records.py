"""Conformance suites for the record backend and every record built on it, in one place.

Every suite takes its backend from ``make_backend(tmp_path)`` (and its lock from
``make_lock(tmp_path)``, a thread lock by default); subclass each once per backend::

    class TestMemoryRefs(RefStoreTests):
        def make_backend(self, tmp_path):
            return MemoryRecords()
"""

from __future__ import annotations

from coral.testing._base import RecordSuite
from coral.testing.backend import RecordBackendTests
from coral.testing.documents import ConfigTests, JsonDocumentTests, StagingAreaTests
from coral.testing.immutable import CommitStoreTests, VersionStoreTests
from coral.testing.refs import RefStoreTests, TrackingRefsTests

__all__ = [
    "CommitStoreTests",
    "ConfigTests",
    "JsonDocumentTests",
    "RecordBackendTests",
    "RecordSuite",
    "RefStoreTests",
    "StagingAreaTests",
    "TrackingRefsTests",
    "VersionStoreTests",
]
