"""A run's own record, ``runs/<run>.json``: its parameters, where it started, and whether a
process has it open (so a second process cannot write the same run by mistake).

The record is local bookkeeping; what travels with the history (push, pull, clone) is in each
run commit's metadata (``metadata.extra["run"]``), params included.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from coral.records.backend import RecordBackend
from coral.records.keys import RUNS


def record_key(name: str) -> str:
    return f"{RUNS}/{name}.json"


def journal_key(name: str) -> str:
    return f"{RUNS}/{name}.journal"


@dataclass(frozen=True)
class RunRecord:
    """What the repository knows of a run it ran (see the module docstring).

    Attributes:
        status: ``"active"`` while a process has the run open, ``"closed"`` after.
        pid, host: the process that has (or last had) it open.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    started_at: str = ""
    from_commit: str | None = None
    status: str = "active"
    pid: int = 0
    host: str = ""
    closed_at: str | None = None

    def opened_here(self) -> RunRecord:
        """This record, open in this process now."""
        return replace(
            self, status="active", pid=os.getpid(), host=socket.gethostname(), closed_at=None
        )

    def closed(self) -> RunRecord:
        return replace(self, status="closed", closed_at=_now())

    def held_elsewhere(self) -> bool:
        """Whether another live process on this machine has the run open."""
        if self.status != "active" or self.host != socket.gethostname() or self.pid == os.getpid():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False  # it died without closing the run: it may be resumed
        except PermissionError:
            return True
        return True


def new_record(name: str, params: dict[str, Any], from_commit: str | None) -> RunRecord:
    return RunRecord(name, params, _now(), from_commit).opened_here()


def read_record(records: RecordBackend, name: str) -> RunRecord | None:
    """The run's record; None when there is none (or it is unreadable: a run seen only
    through its commits, as in a clone)."""
    raw = records.read(record_key(name))
    if raw is None:
        return None
    try:
        data = json.loads(raw)
        return RunRecord(**{k: data[k] for k in RunRecord.__dataclass_fields__ if k in data})
    except (ValueError, TypeError, KeyError):
        return None


def write_record(records: RecordBackend, record: RunRecord) -> None:
    records.write(record_key(record.name), json.dumps(asdict(record), sort_keys=True).encode())


def run_names(records: RecordBackend) -> list[str]:
    """Every run with a record here."""
    prefix = f"{RUNS}/"
    return sorted(
        key[len(prefix) : -len(".json")] for key in records.list(RUNS) if key.endswith(".json")
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
