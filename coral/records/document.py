"""``JsonDocument``: one small JSON object kept as one record (``config.json``,
``remotes.json``), read whole and changed by a locked read-modify-write."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from coral.errors import RepositoryFormatError
from coral.records.backend import RecordBackend, RecordLock
from coral.storage.fsutil import dumps_json, loads_json


class JsonDocument:
    """A JSON object under one key of a :class:`RecordBackend`.

    It is re-read on every access (it is tiny), so what another process wrote is seen at
    once; :meth:`editing` holds the lock across the read and the write, so two writers never
    drop each other's keys.
    """

    def __init__(self, records: RecordBackend, key: str, lock: RecordLock) -> None:
        self.records = records
        self.key = key
        self.lock = lock

    @property
    def where(self) -> str:
        """The document as error messages name it (on disk: its path)."""
        return self.records.describe(self.key)

    def read(self) -> dict[str, Any]:
        """The document; ``{}`` when there is none.

        Raises:
            RepositoryFormatError: it is not JSON, or not a JSON object.
        """
        try:
            raw = self.records.read(self.key)
            data = {} if raw is None else loads_json(raw)
        except ValueError as err:
            raise RepositoryFormatError(
                f"{self.where} is not valid JSON ({err}); fix or restore it"
            ) from err
        if not isinstance(data, dict):
            raise RepositoryFormatError(f"{self.where} must hold a JSON object")
        return data

    def write(self, data: dict[str, Any]) -> None:
        """Replace the document."""
        self.records.write(self.key, dumps_json(data))

    @contextmanager
    def editing(self) -> Iterator[dict[str, Any]]:
        """Under the lock, a copy of the document to change; written back when the block
        ends cleanly and something changed."""
        with self.lock.hold():
            before = self.read()
            data = copy.deepcopy(before)
            yield data
            if data != before:
                self.write(data)

    def __repr__(self) -> str:
        return f"JsonDocument({self.where})"
