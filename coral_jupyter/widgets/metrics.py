"""Metrics across versions: every metric recorded on tags and commits, in history order.

Points are the commits that carry metrics (a tag's metrics belong to its commit), ordered
oldest to newest along the history; clicking one (or :meth:`MetricsPlot.select_commit`) selects
that version, and the linked :class:`DagExplorer` selects it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from coral.history.graph_layout import topological_newest_first
from coral.version_control import Repository
from coral_jupyter.display.html import block, esc, short_hash, table
from coral_jupyter.widgets import theme
from coral_jupyter.widgets.dag import DagExplorer
from coral_jupyter.widgets.static import StaticFallback


@dataclass(frozen=True)
class MetricPoint:
    """One commit with metrics (its own or its tags'): where it sits in history, the label
    to show and the values."""

    commit_hash: str
    label: str  # tag names, else the short hash
    order: int  # position in history, oldest first
    values: dict[str, float]


def collect_points(repo: Repository) -> list[MetricPoint]:
    """Every commit that has metrics (its own or its tags'), oldest first."""
    versions = repo.list_versions()
    commits = list(reversed(topological_newest_first(repo.version_graph.walk(repo.ref_tips()))))
    tags: dict[str, list[str]] = {}
    values: dict[str, dict[str, float]] = {}
    for c in commits:
        recorded = c.metadata.extra.get("metrics")
        if isinstance(recorded, dict):
            values.setdefault(c.commit_hash, {}).update(recorded)
    for v in versions:
        tags.setdefault(v.commit_hash, []).append(v.name)
        if v.metrics:
            values.setdefault(v.commit_hash, {}).update(v.metrics)
    return [
        MetricPoint(
            c.commit_hash,
            ", ".join(tags.get(c.commit_hash, [])) or c.short_hash,
            i,
            values[c.commit_hash],
        )
        for i, c in enumerate(commits)
        if c.commit_hash in values
    ]


class MetricsPlot(StaticFallback):
    """Metrics of ``repo`` across versions; ``explorer`` (optional) follows the selection."""

    def __init__(self, repo: Repository, explorer: DagExplorer | None = None) -> None:
        self.repo = repo
        self.explorer = explorer
        self.selected: str | None = None
        self.points: list[MetricPoint] = []
        self._drawing_paused = False
        self.choice = widgets.SelectMultiple(description="metrics", rows=4)
        self.figure = go.FigureWidget(
            layout=theme.base_layout(
                height=340,
                xaxis=theme.axis(title="version (history order)"),
                yaxis=theme.axis(),
                legend={"orientation": "h", "y": 1.1},
            )
        )
        self.info = widgets.HTML()
        self.choice.observe(lambda _: self._draw(), "value")
        self.widget = widgets.VBox([self.choice, self.figure, self.info])
        self.refresh()

    @property
    def metric_names(self) -> list[str]:
        return sorted({k for p in self.points for k in p.values})

    def refresh(self) -> None:
        self.points = collect_points(self.repo)
        names = self.metric_names
        self._drawing_paused = True  # one redraw, not one per trait change
        self.choice.value = ()
        self.choice.options = names
        self.choice.value = tuple(names)
        self._drawing_paused = False
        self._draw()

    def select_commit(self, ref: str) -> None:
        """Select a version (any ref); the linked DAG explorer selects it too."""
        commit_hash = self.repo.resolve_ref(ref)
        self.selected = commit_hash
        point = next((p for p in self.points if p.commit_hash == commit_hash), None)
        shown = ", ".join(f"{k}={v:g}" for k, v in (point.values if point else {}).items())
        self.info.value = (
            f"selected {short_hash(commit_hash)} {esc(point.label if point else '')} {esc(shown)}"
        )
        self._draw()
        if self.explorer is not None:
            self.explorer.select_commit(commit_hash)

    def _draw(self) -> None:
        if self._drawing_paused:
            return
        traces = []
        for i, name in enumerate(self.choice.value):
            pts = [p for p in self.points if name in p.values]
            traces.append(
                go.Scatter(
                    x=[p.order for p in pts],
                    y=[p.values[name] for p in pts],
                    text=[p.label for p in pts],
                    customdata=[p.commit_hash for p in pts],
                    mode="lines+markers",
                    name=name,
                    marker={
                        "size": [14 if p.commit_hash == self.selected else 8 for p in pts],
                        "color": theme.PALETTE[i % len(theme.PALETTE)],
                    },
                    hovertemplate="%{text}<br>" + esc(name) + "=%{y:.4g}<extra></extra>",
                )
            )
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(traces)
            self.figure.layout.xaxis.tickvals = [p.order for p in self.points]
            self.figure.layout.xaxis.ticktext = [p.label for p in self.points]
        for trace in self.figure.data:
            trace.on_click(self._clicked)

    def _clicked(self, trace: Any, points: Any, state: Any) -> None:
        if points.point_inds:
            self.select_commit(trace.customdata[points.point_inds[0]])

    def static_html(self) -> str:
        names = self.metric_names
        rows = [
            [short_hash(p.commit_hash), esc(p.label)]
            + [esc(f"{p.values[n]:g}") if n in p.values else "" for n in names]
            for p in self.points
        ]
        return block("Metrics across versions", table(["commit", "version", *names], rows))
