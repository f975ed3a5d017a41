"""``RunsTable``: every run of a repository side by side, as experiment trackers' run tables
show them: status, the params (those that differ across runs marked), the latest and best
value of each metric, commits and last activity; sortable, filterable, with a selection.

The rows come from :mod:`coral.runs.table` (as for ``coral runs``); the widget is controls (sort,
direction, filter, selection) over an HTML table, and every control calls a plain method
(:meth:`RunsTable.sort`, :meth:`RunsTable.filter`, :meth:`RunsTable.select`), so all of it can
be driven from Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as widgets

from coral.errors import CoralError, InvalidValueError, RefNotFoundError
from coral.runs.table import (
    RunRow,
    lower_is_better,
    row_filter,
    run_rows,
    sorted_rows,
    varying_params,
)
from coral.version_control import Repository
from coral_jupyter.display.html import badge, block, esc, mono, paragraph, short_hash, table
from coral_jupyter.widgets.static import StaticFallback

_STATUS_COLORS = {"active": "#2ca02c", "closed": "#7f7f7f", "committed": "#1f77b4"}
_VARYING = "background:rgba(255,127,14,0.18)"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return "" if value is None else str(value)


class RunsTable(StaticFallback):
    """The runs of ``repo`` (see the module docstring).

    Args:
        repo: the repository.
        sort: the column to sort by: ``name``, ``status``, ``step``, ``commits``,
            ``activity``, a metric (its latest value), ``best.M``, or a param.
        descending: sort from the largest.
        filter: keep the rows matching an expression (``"lr < 1e-3 and loss < 0.5"``).
        explorer: a DAG explorer in which :meth:`open_run` selects a run's tip.

    Attributes:
        rows: the rows in display order (sorted and filtered).
        selected: the names of the selected runs (to compare or plot).
    """

    def __init__(
        self,
        repo: Repository,
        sort: str | None = None,
        *,
        descending: bool = False,
        filter: str | None = None,
        explorer: Any = None,
    ) -> None:
        self.repo = repo
        self.explorer = explorer
        self.sort_column = sort
        self.descending = descending
        self.filter_expression = filter
        self._matches = row_filter(filter)
        self.selected: list[str] = []
        self.on_select: list[Callable[[list[str]], None]] = []
        self._all: list[RunRow] = []
        self.rows: list[RunRow] = []
        self.sort_choice = widgets.Dropdown(description="sort", layout={"width": "220px"})
        self.direction = widgets.ToggleButton(description="desc", value=descending)
        self.filter_box = widgets.Text(
            value=filter or "",
            placeholder="filter: lr < 1e-3 and loss < 0.5",
            continuous_update=False,  # applied on Enter or when the box loses focus
        )
        self.selection = widgets.SelectMultiple(description="select", rows=4)
        self.table = widgets.HTML()
        self.message = widgets.HTML()
        self._syncing = False
        self.sort_choice.observe(lambda c: self._from_control(lambda: self.sort(c["new"])), "value")
        self.direction.observe(
            lambda c: self._from_control(lambda: self.sort(self.sort_column, c["new"])), "value"
        )
        self.filter_box.observe(
            lambda c: self._from_control(lambda: self.filter(c["new"])), "value"
        )
        self.selection.observe(lambda c: self._from_control(lambda: self.select(c["new"])), "value")
        controls = widgets.HBox([self.sort_choice, self.direction, self.filter_box])
        self.widget = widgets.VBox([controls, self.table, self.selection, self.message])
        self.refresh()

    # --- what the controls call ---

    def refresh(self) -> None:
        """Re-read the runs (after more training) and redraw."""
        self._all = run_rows(self.repo)
        self._arrange()

    def sort(self, column: str | None, descending: bool | None = None) -> None:
        """Sort by ``column`` (see the class docstring); ``None``: by name."""
        self.sort_column = column or None
        if descending is not None:
            self.descending = descending
        self._arrange()

    def filter(self, expression: str | None) -> None:
        """Keep the rows matching ``expression``; empty: every row."""
        self._matches = row_filter(expression)  # a bad expression raises, nothing changes
        self.filter_expression = expression or None
        self._arrange()

    def select(self, names: Iterable[str]) -> None:
        """Select these runs (to compare or plot)."""
        known = {r.name for r in self._all}
        wanted = list(dict.fromkeys(names))
        unknown = [n for n in wanted if n not in known]
        if unknown:
            raise RefNotFoundError(
                f"no run named {unknown[0]!r}; the runs: {', '.join(sorted(known)) or 'none'}"
            )
        self.selected = wanted
        self._sync_controls()
        for callback in self.on_select:
            callback(list(self.selected))

    def open_run(self, name: str) -> None:
        """Select run ``name``'s tip in the DAG explorer this table was given."""
        row = next((r for r in self._all if r.name == name), None)
        if row is None or row.tip is None:
            raise InvalidValueError(f"run {name!r} has no commit to show")
        if self.explorer is not None:
            self.explorer.select_commit(row.tip)

    @property
    def varying(self) -> list[str]:
        """The params that differ across the runs shown (marked in the table)."""
        return varying_params(self.rows)

    # --- drawing ---

    def _arrange(self) -> None:
        shown = [r for r in self._all if self._matches(r)]
        self.rows = sorted_rows(shown, self.sort_column, self.descending)
        self.selected = [n for n in self.selected if any(r.name == n for r in self._all)]
        self._sync_controls()
        self.table.value = self._table_html()

    def _columns(self) -> tuple[list[str], list[str]]:
        params = sorted({k for r in self.rows for k in r.params})
        metrics = sorted({k for r in self.rows for k in (*r.latest, *r.best)})
        return params, metrics

    def _sync_controls(self) -> None:
        self._syncing = True
        try:
            params, metrics = self._columns()
            choices = ["name", "status", "step", "commits", "activity"]
            choices += metrics + [f"best.{m}" for m in metrics] + [f"params.{p}" for p in params]
            current = self.sort_column if self.sort_column in choices else "name"
            self.sort_choice.options = choices
            self.sort_choice.value = current
            self.direction.value = self.descending
            self.filter_box.value = self.filter_expression or ""
            self.selection.options = [r.name for r in self.rows]
            self.selection.value = tuple(r.name for r in self.rows if r.name in self.selected)
        finally:
            self._syncing = False

    def _from_control(self, action: Callable[[], None]) -> None:
        if self._syncing:
            return
        try:
            action()
            self.message.value = ""
        except CoralError as err:
            self.message.value = paragraph(f'<span style="color:#d62728">{esc(err)}</span>')

    def _table_html(self) -> str:
        if not self.rows:
            empty = "No runs match the filter." if self._all else "No runs yet."
            return paragraph(esc(empty))
        params, metrics = self._columns()
        varying = set(self.varying)
        headers = ["run", "status", "step", "commits", "last activity", "tip"]
        headers += [p + (" *" if p in varying else "") for p in params]
        headers += [f"{m} ({'min' if lower_is_better(m) else 'max'} / last)" for m in metrics]
        rows = []
        for r in self.rows:
            cells = [
                mono(r.name) + (" &#10003;" if r.name in self.selected else ""),
                badge(r.status, _STATUS_COLORS.get(r.status, "#7f7f7f")),
                esc(_number(r.step) or "-"),
                esc(str(r.commits)),
                esc(r.activity.strftime("%Y-%m-%d %H:%M") if r.activity else ""),
                short_hash(r.tip),
            ]
            for p in params:
                text = esc(_number(r.params.get(p)))
                cells.append(f'<span style="{_VARYING}">{text}</span>' if p in varying else text)
            for m in metrics:
                best, last = (_number(v) or "-" for v in (r.best.get(m), r.latest.get(m)))
                cells.append(esc(f"{best} / {last}"))
            rows.append(cells)
        note = paragraph("* differs across these runs") if varying else ""
        return table(headers, rows) + note

    def static_html(self) -> str:
        return block(f"Runs ({len(self.rows)})", self._table_html())

    def __repr__(self) -> str:
        return "\n".join(_text_row(r) for r in self.rows) or "no runs"


def _text_row(row: RunRow) -> str:
    metrics = ", ".join(f"{k}={_number(v)}" for k, v in row.latest.items())
    return f"{row.name} [{row.status}] step {_number(row.step) or '-'}; {metrics}"
