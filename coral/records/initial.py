"""The records a new, empty repository starts with, on disk or in memory."""

from __future__ import annotations

from coral.records.backend import RecordBackend
from coral.records.config import initial_config
from coral.records.keys import CONFIG, DEFAULT_BRANCH, HEAD, HEAD_REF_PREFIX, REMOTES
from coral.storage.fsutil import dumps_json


def create_records(records: RecordBackend) -> None:
    """HEAD on an unborn ``main``, no remotes, the default config. The config is written
    last: its presence is what marks a complete repository."""
    if records.stat(REMOTES) is None:
        records.write(REMOTES, dumps_json({}))
    # No trailing newline: a plain f.read() of HEAD gives the ref or commit hash exactly.
    records.write(HEAD, (HEAD_REF_PREFIX + DEFAULT_BRANCH).encode())
    records.write(CONFIG, dumps_json(initial_config()))
