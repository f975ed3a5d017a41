"""A run's journal: the points logged since its last commit, one JSON line each, in the
record ``runs/<run>.journal``.

``log`` appends a line (``{"n": seq, "s": step, "m": {name: value}}``) through an open
``O_APPEND`` descriptor, without fsync: a few microseconds, and the line survives the process
being killed. A commit takes the points up to a sequence number into its metadata; the
journal then drops them (rewritten atomically). Lines are filtered by sequence number, so a
crash between the commit and that rewrite only leaves lines that are skipped next time, and a
line torn by a crash mid-write is skipped too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from coral.records.backend import Appender, RecordBackend
from coral.runs.points import Points, decode_value, encode_value


@dataclass(frozen=True)
class Entry:
    """One ``log`` call: its sequence number in the run, its step and its values."""

    seq: int
    step: int
    values: dict[str, float]


class Journal:
    """The journal of one run (see the module docstring). Not thread-safe: the run
    serialises its calls."""

    def __init__(self, records: RecordBackend, key: str) -> None:
        self._records = records
        self.key = key
        self._appender: Appender | None = None

    def append(self, entry: Entry) -> None:
        """Journal one log call."""
        if self._appender is None:
            self._appender = self._records.appender(self.key)
        self._appender.write(_line(entry))

    def entries(self, after: int = 0) -> list[Entry]:
        """The journalled calls with a sequence number above ``after``, in order."""
        raw = self._records.read(self.key, max_bytes=None) or b""
        found = []
        for line in raw.splitlines():
            entry = _parse(line)
            if entry is not None and entry.seq > after:
                found.append(entry)
        return found

    def drop_through(self, seq: int) -> None:
        """Forget the entries up to ``seq`` (a commit now holds them)."""
        kept = [e for e in self.entries() if e.seq > seq]
        self.close()  # the rewrite replaces the file: a new appender opens the new one
        if kept:
            self._records.write(self.key, b"".join(_line(e) for e in kept))
        else:
            self._records.delete(self.key)

    def sync(self) -> None:
        """Make every journalled line durable (a run's close)."""
        if self._appender is not None:
            self._appender.sync()

    def close(self) -> None:
        if self._appender is not None:
            self._appender.close()
            self._appender = None


def as_points(entries: list[Entry]) -> Points:
    """Journal entries as points by metric name, in journal order."""
    points: Points = {}
    for entry in entries:
        for name, value in entry.values.items():
            points.setdefault(name, []).append((entry.step, value))
    return points


def _line(entry: Entry) -> bytes:
    values = {k: encode_value(v) for k, v in entry.values.items()}
    return (
        json.dumps({"n": entry.seq, "s": entry.step, "m": values}, separators=(",", ":")).encode()
        + b"\n"
    )


def _parse(line: bytes) -> Entry | None:
    try:
        data = json.loads(line)
        values = {str(k): decode_value(v) for k, v in data["m"].items()}
        seq, step = data["n"], data["s"]
        if not (isinstance(seq, int) and isinstance(step, int)):
            return None
        return Entry(seq, step, values)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # torn by a crash mid-write, or not ours
