"""The rows of a runs table (``coral runs``, ``%coral runs``), without any display: each
run's status, params, latest and best value of every metric, commits and last activity;
sorting by any column and filtering by an expression such as ``lr < 1e-3 and loss < 0.5``.

"Best" is the minimum for metrics whose name says lower is better (loss, error, mse, mae,
perplexity, wer, cer), else the maximum, as the run tables of experiment trackers show it.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from coral.errors import InvalidValueError
from coral.records.commit import Commit
from coral.runs.service import RunInfo

_LOWER_IS_BETTER = re.compile(r"loss|err|mse|mae|rmse|perplexity|ppl|wer|cer", re.IGNORECASE)
FIELDS = ("name", "status", "step", "commits", "activity")
"""Columns every row has, besides its params and metrics."""


def lower_is_better(metric: str) -> bool:
    return bool(_LOWER_IS_BETTER.search(metric))


@dataclass(frozen=True)
class RunRow:
    """One run in the table."""

    name: str
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    latest: dict[str, float] = field(default_factory=dict)
    best: dict[str, float] = field(default_factory=dict)
    commits: int = 0
    step: int | None = None
    activity: datetime | None = None
    tip: str | None = None

    def value(self, column: str) -> Any:
        """A column's value: a field, ``params.K`` / ``best.M`` / ``latest.M``, or a bare
        metric (its latest value) or param name; None when the run has none."""
        if column in FIELDS:
            return getattr(self, column)
        group, _, key = column.partition(".")
        if key and group in ("params", "best", "latest"):
            return getattr(self, group).get(key)
        if column in self.latest:
            return self.latest[column]
        return self.params.get(column)


class RunSource(Protocol):
    """What the rows are read from: a ``Repository`` (this layer sits below it)."""

    def runs(self) -> list[RunInfo]: ...

    def metric_history(self, run: str) -> dict[str, list[tuple[int, float]]]: ...

    def get_commit(self, ref: str = "HEAD") -> Commit: ...


def run_rows(repo: RunSource) -> list[RunRow]:
    """Every run of ``repo`` as a row, by name."""
    rows = []
    for info in repo.runs():
        points = repo.metric_history(info.name)
        best = {}
        for metric, pairs in points.items():
            values = [v for _, v in pairs if not math.isnan(v)]
            if values:
                best[metric] = min(values) if lower_is_better(metric) else max(values)
        activity = repo.get_commit(info.head).metadata.timestamp if info.head else None
        rows.append(
            RunRow(
                name=info.name,
                status=info.status,
                params=dict(info.params),
                latest=dict(info.metrics),
                best=best,
                commits=info.commits,
                step=info.last_step,
                activity=activity,
                tip=info.head,
            )
        )
    return rows


def varying_params(rows: Sequence[RunRow]) -> list[str]:
    """The params whose values differ across ``rows`` (or that some rows lack)."""
    names = sorted({k for r in rows for k in r.params})
    return [n for n in names if len({repr(r.params.get(n)) for r in rows}) > 1]


def sorted_rows(rows: Sequence[RunRow], column: str | None, descending: bool) -> list[RunRow]:
    """``rows`` by ``column`` (rows without a value last, whichever the direction)."""
    if column is None:
        return list(rows)

    def key(row: RunRow) -> tuple[int, Any]:
        value = row.value(column)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return (1, 0)
        return (0, value if isinstance(value, int | float) else str(value))

    present = [r for r in rows if key(r)[0] == 0]
    missing = [r for r in rows if key(r)[0] == 1]
    return sorted(present, key=key, reverse=descending) + missing


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class _Missing(Exception):
    """A name the row has no value for: the row does not match."""


def row_filter(expression: str | None) -> Callable[[RunRow], bool]:
    """A predicate from ``lr < 1e-3 and status == 'closed'``: comparisons of columns (as
    :meth:`RunRow.value` names them) with numbers and strings, ``and``, ``or``, ``not``.

    Raises:
        InvalidValueError: anything else (no calls, no attributes beyond ``params.K``).
    """
    if not expression or not expression.strip():
        return lambda row: True
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as err:
        raise InvalidValueError(f"filter {expression!r} is not an expression: {err.msg}") from None
    _check(tree.body, expression)

    def matches(row: RunRow) -> bool:
        try:
            return bool(_evaluate(tree.body, row))
        except (_Missing, TypeError):
            return False  # no such value, or one of another kind: not a match

    return matches


def _check(node: ast.AST, expression: str) -> None:
    allowed = (
        ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare,
        ast.Name, ast.Load, ast.Constant, ast.Attribute, *_COMPARE,
    )  # fmt: skip
    for child in ast.walk(node):
        if not isinstance(child, allowed):
            raise InvalidValueError(
                f"filter {expression!r}: only comparisons of columns with numbers or strings, "
                'joined by and/or/not, are allowed (e.g. "lr < 1e-3 and loss < 0.5")'
            )
        if isinstance(child, ast.Attribute) and not (
            isinstance(child.value, ast.Name) and child.value.id in ("params", "best", "latest")
        ):
            raise InvalidValueError(
                f"filter {expression!r}: write params.NAME, best.NAME or latest.NAME"
            )


def _evaluate(node: ast.AST, row: RunRow) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_evaluate(v, row) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, row)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.Compare):
        left = _evaluate(node.left, row)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            right = _evaluate(right_node, row)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    column = (
        f"{node.value.id}.{node.attr}"  # type: ignore[attr-defined]
        if isinstance(node, ast.Attribute)
        else node.id  # type: ignore[attr-defined]
    )
    value = row.value(column)
    if value is None:
        raise _Missing(column)
    return value
