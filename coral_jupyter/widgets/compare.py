"""``RunComparison``: two runs side by side, as MLflow's run comparison shows them, plus what
only a versioned store can add: the weight diff of their tips and a preview of merging them.

The parameters that differ (``.params_diff``), both runs' curves overlaid (one metric at a
time, chosen in a dropdown), their merge base, the diff viewer of their tips, and a button
that plans merging B into A (``repo.preview_merge``: nothing is written, HEAD stays).
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from coral.errors import CoralError, InvalidValueError
from coral.version_control import MergePlan, Repository
from coral_jupyter.display.html import block, esc, mono, paragraph, short_hash, table
from coral_jupyter.display.views import merge_plan_html
from coral_jupyter.widgets import theme
from coral_jupyter.widgets.diffview import DiffViewer
from coral_jupyter.widgets.static import StaticFallback


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "-" if value is None else str(value)


class RunComparison(StaticFallback):
    """Runs ``a`` and ``b`` of ``repo`` compared (see the module docstring).

    Attributes:
        params_diff: ``{param: (a_value, b_value)}`` for the params that differ.
        merge_base: the commit both runs' tips descend from (None: unrelated).
        curves: ``{run: {metric: [(step, value), ...]}}``.
        plan: the merge preview, once :meth:`preview_merge` ran.
    """

    def __init__(self, repo: Repository, a: str, b: str, *, strategy: str = "average") -> None:
        self.repo = repo
        self.a, self.b = repo.run_info(a), repo.run_info(b)
        for info in (self.a, self.b):
            if info.head is None:
                raise InvalidValueError(f"run {info.name!r} has no commit yet to compare")
        assert self.a.head is not None and self.b.head is not None
        self.strategy = strategy
        names = sorted(set(self.a.params) | set(self.b.params))
        self.params_diff = {
            n: (self.a.params.get(n), self.b.params.get(n))
            for n in names
            if self.a.params.get(n) != self.b.params.get(n)
        }
        self.shared_params = {n: self.a.params[n] for n in names if n not in self.params_diff}
        self.merge_base = repo.version_graph.get_common_ancestor(self.a.head, self.b.head)
        self.curves = {r.name: repo.metric_history(r.name) for r in (self.a, self.b)}
        self.metrics = sorted(set(self.curves[a]) | set(self.curves[b]))
        self.plan: MergePlan | None = None
        self.metric_choice = widgets.Dropdown(
            options=self.metrics, description="metric", layout={"width": "260px"}
        )
        self.figure = go.FigureWidget(
            layout=theme.base_layout(
                height=300,
                xaxis=theme.axis(title="step"),
                yaxis=theme.axis(),
                legend={"orientation": "h", "y": 1.1, "x": 0},
            )
        )
        self.preview_button = widgets.Button(
            description=f"preview merging {b} into {a}", layout={"width": "auto"}
        )
        self.preview_button.on_click(lambda _: self._safely(self.preview_merge))
        self.plan_area = widgets.HTML()
        self.diff = DiffViewer(repo, self.a.head, self.b.head)
        self.metric_choice.observe(lambda c: self.show_metric(c["new"]), "value")
        self.widget = widgets.VBox(
            [
                widgets.HTML(self._summary_html()),
                self.metric_choice,
                self.figure,
                widgets.HBox([self.preview_button]),
                self.plan_area,
                self.diff.widget,
            ]
        )
        if self.metrics:
            self.show_metric(self.metrics[0])

    def show_metric(self, metric: str | None) -> None:
        """Overlay both runs' curves of ``metric``."""
        traces = []
        for info, colour in ((self.a, theme.PALETTE[0]), (self.b, theme.PALETTE[1])):
            pairs = self.curves[info.name].get(metric or "", [])
            params = ", ".join(f"{k}={v}" for k, v in info.params.items())
            traces.append(
                go.Scatter(
                    x=[s for s, _ in pairs],
                    y=[v for _, v in pairs],
                    mode="lines+markers",
                    name=info.name,
                    line={"color": colour},
                    hovertemplate=f"{esc(info.name)} ({esc(params)})<br>step %{{x}}: %{{y}}"
                    "<extra></extra>",
                )
            )
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(traces)
            self.figure.layout.yaxis.title = metric

    def preview_merge(self) -> MergePlan:
        """Plan merging B into A with the chosen strategy; nothing is written."""
        self.plan = self.repo.preview_merge(self.b.name, self.a.name, self.strategy)
        self.plan_area.value = merge_plan_html(self.plan)
        return self.plan

    def _safely(self, action: Any) -> None:
        try:
            action()
        except CoralError as err:
            self.plan_area.value = paragraph(f'<span style="color:#d62728">{esc(err)}</span>')

    def _summary_html(self) -> str:
        a, b = self.a.name, self.b.name
        rows = [(mono(k), esc(_shown(x)), esc(_shown(y))) for k, (x, y) in self.params_diff.items()]
        latest = sorted(set(self.a.metrics) | set(self.b.metrics))
        metric_rows = [
            (mono(m), esc(_shown(self.a.metrics.get(m))), esc(_shown(self.b.metrics.get(m))))
            for m in latest
        ]
        same = ", ".join(f"{k}={v}" for k, v in self.shared_params.items()) or "none"
        base = short_hash(self.merge_base) if self.merge_base else "none (unrelated histories)"
        parts = [
            table(["param", a, b], rows) if rows else paragraph("The params are the same."),
            paragraph(esc(f"Shared params: {same}")),
            table(["latest", a, b], metric_rows) if metric_rows else "",
            paragraph(f"Merge base: {base}; tips {short_hash(self.a.head)} and "
                      f"{short_hash(self.b.head)}"),
        ]  # fmt: skip
        return block(f"{a} vs {b}", *parts)

    def static_html(self) -> str:
        return self._summary_html() + self.diff.static_html()

    def __repr__(self) -> str:
        diff = ", ".join(f"{k}: {x} vs {y}" for k, (x, y) in self.params_diff.items())
        return f"{self.a.name} vs {self.b.name}: " + (diff or "same params")
