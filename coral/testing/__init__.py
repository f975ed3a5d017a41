"""Conformance suites that every implementation of an interface runs (zarr's ``StoreTests``).

Each suite is a plain pytest class with an abstract factory; a test module subclasses it once
per implementation::

    from coral.records.backend import MemoryRecords
    from coral.testing.records import RecordBackendTests

    class TestMemoryRecords(RecordBackendTests):
        def make_backend(self, tmp_path):
            return MemoryRecords()

- :mod:`coral.testing.records`: the record backend and every record class built on it.
- :mod:`coral.testing.stores`: tensor stores.
- :mod:`coral.testing.remote`: remote backends (memory, file, S3).
- :mod:`coral.testing.arrays`: arrays of every dtype with hostile bit patterns.

These modules import pytest and hypothesis (the ``test`` extra); nothing else in ``coral``
imports them.
"""
