"""Displays of runs: the ``%coral runs`` table, and ``%coral status`` with the session's
active run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coral.runs import RunInfo
from coral.version_control import Status
from coral_jupyter.display.html import badge, block, esc, mono, paragraph, short_hash, table
from coral_jupyter.display.views import status_html

_STATUS_COLORS = {"active": "#2ca02c", "closed": "#7f7f7f", "committed": "#1f77b4"}


def _number(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def _pairs(values: dict[str, Any], *, numbers: bool = False) -> str:
    shown = (_number(v) if numbers and isinstance(v, float) else v for v in values.values())
    return ", ".join(f"{k}={v}" for k, v in zip(values, shown, strict=True))


@dataclass(frozen=True)
class RunTable:
    """Every run of the repository: status, last step, commits, params, latest metrics."""

    runs: Sequence[RunInfo]

    def __repr__(self) -> str:
        return "\n".join(str(r) for r in self.runs) or "no runs yet (%coral run start NAME)"

    def _repr_html_(self) -> str:
        if not self.runs:
            return block("Runs", paragraph("No runs yet: <code>%coral run start NAME</code>"))
        rows = [
            (
                mono(r.name),
                badge(r.status, _STATUS_COLORS.get(r.status, "#7f7f7f")),
                esc("-" if r.last_step is None else str(r.last_step)),
                esc(str(r.commits)),
                short_hash(r.head),
                esc(_pairs(r.params)),
                esc(_pairs(r.metrics, numbers=True)),
            )
            for r in self.runs
        ]
        headers = ["run", "status", "step", "commits", "tip", "params", "latest metrics"]
        return block("Runs", table(headers, rows))


@dataclass(frozen=True)
class SessionStatus:
    """``%coral status``: the repository's status and the session's active run, if any."""

    status: Status
    run: str | None = None
    step: int | None = None

    def _run_line(self) -> str | None:
        if self.run is None:
            return None
        at = "no step yet" if self.step is None else f"step {self.step}"
        return f"Active run: {self.run} ({at})"

    def __repr__(self) -> str:
        line = self._run_line()
        return str(self.status) + (f"\n{line}" if line else "")

    def _repr_html_(self) -> str:
        html = status_html(self.status)
        line = self._run_line()
        if line is None:
            return html
        return html + block("", paragraph(badge("run", "#2ca02c") + esc(line)))
