"""The commit-DAG explorer: history drawn like ``git log --graph``, clickable.

:class:`DagModel` is the pure-Python part (which commits, where, in which colour, with which
labels); :class:`DagExplorer` draws it with a Plotly ``FigureWidget`` beside a panel about the
selected commit, with buttons for what one does with a commit. Click handlers only call plain
methods (:meth:`DagExplorer.select_commit`, ...), so everything can be driven from Python.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go

from coral.errors import CoralError
from coral.history.graph_layout import layout, topological_newest_first
from coral.version_control import Commit, Repository
from coral_jupyter.display.html import block, esc, paragraph
from coral_jupyter.display.views import DiffView, LogView, commit_html, shapes_of
from coral_jupyter.widgets import theme
from coral_jupyter.widgets.static import StaticFallback

ROW_PX = 26
_STATS_BYTES = 256 << 20
"""Changed-tensor statistics in the side panel are computed below this many bytes."""


@dataclass(frozen=True)
class DagNode:
    """One commit in the drawing: its lane, row, branch colour and ref labels."""

    commit: Commit
    lane: int
    row: int
    branch: str
    labels: tuple[str, ...]


@dataclass
class DagModel:
    """Where every commit of a repository goes in the drawing."""

    nodes: list[DagNode] = field(default_factory=list)
    edges: list[tuple[int, int, int, int]] = field(default_factory=list)  # lane0, row0, lane1, row1
    head: str | None = None
    branches: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, repo: Repository, branch: str | None = None) -> DagModel:
        """Every commit reachable from a branch, tag or HEAD (or only from ``branch``)."""
        all_branches = repo.branch_manager.list_branches()
        head = repo.head
        starts = [repo.resolve_ref(branch)] if branch is not None else repo.ref_tips()
        commits = topological_newest_first(repo.version_graph.walk(starts)) if starts else []
        colour = _branch_of(repo, commits, [b.name for b in all_branches], head.branch)
        labels = repo.ref_labels()
        rows = layout(commits)
        row_of = {r.commit.commit_hash: i for i, r in enumerate(rows)}
        model = cls(head=head.commit_hash, branches=sorted(b.name for b in all_branches))
        for i, r in enumerate(rows):
            h = r.commit.commit_hash
            model.nodes.append(
                DagNode(r.commit, r.lane, i, colour.get(h, ""), tuple(labels.get(h, ())))
            )
            for parent, lane in zip(r.commit.parent_hashes, r.outgoing, strict=False):
                model.edges += _edge(r.lane, i, lane, row_of.get(parent), rows)
        return model

    def position(self, commit_hash: str) -> DagNode | None:
        return self._by_hash.get(commit_hash)

    @cached_property
    def _by_hash(self) -> dict[str, DagNode]:
        # Built once the model is complete (build() fills nodes before anyone asks).
        return {node.commit.commit_hash: node for node in self.nodes}


def _edge(
    lane: int, row: int, out_lane: int, parent_row: int | None, rows: list[Any]
) -> list[tuple[int, int, int, int]]:
    """Segments from a commit to one parent: into the parent's lane on the next row, or down
    ``out_lane`` and into the parent at its row (off the bottom for parents not shown)."""
    if parent_row is None:
        points = [(lane, row), (out_lane, row + 1), (out_lane, len(rows))]
    elif parent_row == row + 1:
        points = [(lane, row), (rows[parent_row].lane, parent_row)]
    else:
        points = [
            (lane, row),
            (out_lane, row + 1),
            (out_lane, parent_row - 1),
            (rows[parent_row].lane, parent_row),
        ]
    return [(a[0], a[1], b[0], b[1]) for a, b in itertools.pairwise(points) if a != b]


def _branch_of(
    repo: Repository, commits: list[Commit], branches: list[str], current: str | None
) -> dict[str, str]:
    """Commit -> the branch it is coloured as: each branch claims its first-parent chain,
    the current branch first, then the others by name."""
    by_hash = {c.commit_hash: c for c in commits}
    order = ([current] if current in branches else []) + sorted(b for b in branches if b != current)
    owner: dict[str, str] = {}
    for name in order:
        h: str | None = repo.branch_manager.get_branch(name).commit_hash
        while h is not None and h in by_hash and h not in owner:
            owner[h] = name
            parents = by_hash[h].parent_hashes
            h = parents[0] if parents else None
    return owner


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def hover_text(commit: Commit, labels: Iterable[str], metrics: dict[str, float]) -> str:
    meta = commit.metadata
    lines = [
        f"<b>{commit.short_hash}</b> {html.escape(_first_line(meta.message))}",
        html.escape(f"{meta.author} · {meta.timestamp:%Y-%m-%d %H:%M}"),
    ]
    refs = ", ".join(labels)
    if refs:
        lines.append(html.escape(refs))
    if metrics:
        lines.append(html.escape(", ".join(f"{k}={v:g}" for k, v in metrics.items())))
    if commit.is_merge_commit:
        lines.append("merge of " + ", ".join(p[:8] for p in commit.parent_hashes))
    return "<br>".join(lines)


class DagExplorer(StaticFallback):
    """The commit graph of ``repo``, with a panel about the selected commit.

    Example:
        >>> explorer = DagExplorer(repo)          # doctest: +SKIP
        >>> explorer.select_commit("main~2")      # doctest: +SKIP
        >>> explorer                              # doctest: +SKIP
    """

    def __init__(self, repo: Repository, *, height: int = 520) -> None:
        self.repo = repo
        self.selected: str | None = None
        self.branch_filter: str | None = None
        self.highlighted: set[str] | None = None
        self.model = DagModel()
        self.on_select: list[Callable[[str], None]] = []
        self.figure = go.FigureWidget(
            layout=theme.base_layout(
                height=height,
                showlegend=True,
                legend={"orientation": "h", "y": 1.02, "x": 0},
                xaxis=theme.axis(visible=False),
                yaxis=theme.axis(visible=False, autorange="reversed"),
                dragmode="pan",
                clickmode="event",
            )
        )
        self.panel = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.message = widgets.HTML()
        self.name = widgets.Text(placeholder="new branch or tag name", layout={"width": "200px"})
        self.branch_choice = widgets.Dropdown(description="branch", layout={"width": "220px"})
        self.ancestor_choice = widgets.Dropdown(
            description="ancestors of", layout={"width": "240px"}
        )
        buttons = {
            "checkout": self.checkout_selected,
            "branch here": lambda: self.branch_here(self.name.value),
            "tag": lambda: self.tag_selected(self.name.value),
            "diff vs parent": lambda: self.show_diff("parent"),
            "diff vs HEAD": lambda: self.show_diff("HEAD"),
        }
        self.buttons = {}
        for label, action in buttons.items():
            button = widgets.Button(description=label, layout={"width": "auto"})
            button.on_click(lambda _, act=action: self._safely(act))
            self.buttons[label] = button
        self.diff_area = widgets.Output()
        self._syncing = False  # set while refresh() updates the controls itself
        self.branch_choice.observe(self._on_branch_choice, "value")
        self.ancestor_choice.observe(self._on_ancestor_choice, "value")
        side = widgets.VBox(
            [
                self.panel,
                widgets.HBox(
                    [
                        self.buttons["checkout"],
                        self.buttons["diff vs parent"],
                        self.buttons["diff vs HEAD"],
                    ]
                ),
                widgets.HBox([self.name, self.buttons["branch here"], self.buttons["tag"]]),
                self.message,
            ],
            layout=widgets.Layout(width="45%", padding="0 0 0 8px"),
        )
        controls = widgets.HBox([self.branch_choice, self.ancestor_choice])
        graph = widgets.VBox([controls, self.figure], layout=widgets.Layout(width="55%"))
        self.widget = widgets.VBox([widgets.HBox([graph, side]), self.diff_area])
        self.refresh()

    # --- what the buttons and clicks call ---

    def refresh(self) -> None:
        """Re-read the repository (after commits made elsewhere) and redraw in place."""
        self.model = DagModel.build(self.repo, self.branch_filter)
        refs = self.model.branches + sorted(v.name for v in self.repo.list_versions())
        # "" stands for "all" / "none": a Dropdown cannot show an option whose value is None.
        options = [("all branches", "")] + [(b, b) for b in self.model.branches]
        self._syncing = True
        try:
            self.branch_choice.options = options
            self.branch_choice.value = self.branch_filter or ""
            self.ancestor_choice.options = [("(none)", "")] + [(r, r) for r in refs]
        finally:
            self._syncing = False
        if self.selected is not None and self.model.position(self.selected) is None:
            self.selected = None
        self._draw()
        self._show_panel()

    def select_commit(self, ref: str) -> None:
        """Select a commit (any ref): the side panel shows it, listeners are told."""
        commit_hash = self.repo.resolve_ref(ref)
        self.selected = commit_hash
        self._draw_selection()
        self._show_panel()
        for listener in self.on_select:
            listener(commit_hash)

    def filter_branch(self, branch: str | None) -> None:
        """Show only the history of ``branch`` (None: every branch)."""
        self.branch_filter = branch
        self.refresh()

    def highlight_ancestors(self, ref: str | None) -> None:
        """Dim every commit that is not ``ref`` or one of its ancestors (None: no dimming)."""
        if ref is None:
            self.highlighted = None
        else:
            head = self.repo.resolve_ref(ref)
            self.highlighted = {head, *self.repo.version_graph.get_commit_ancestors(head)}
        self._draw()

    def checkout_selected(self) -> None:
        commit = self._require_selection()
        current = self.repo.current_branch
        on_branch = sorted(
            (b.name for b in self.repo.branch_manager.list_branches() if b.commit_hash == commit),
            key=lambda name: (name != current, name),  # stay on the current branch if it is here
        )
        target = on_branch[0] if on_branch else commit
        self.repo.checkout(target)
        self._say(f"Checked out {target if on_branch else commit[:8]}")
        self.refresh()

    def branch_here(self, name: str) -> None:
        commit = self._require_selection()
        branch = self.repo.create_branch(name.strip(), from_ref=commit)
        self._say(f"Created branch {branch.name} at {commit[:8]}")
        self.refresh()

    def tag_selected(self, name: str) -> None:
        commit = self._require_selection()
        version = self.repo.tag_version(name.strip(), commit_ref=commit)
        self._say(f"Tagged {commit[:8]} as {version.name}")
        self.refresh()

    def show_diff(self, against: str = "parent") -> Any:
        """Open the diff viewer for the selected commit against its first parent or HEAD."""
        from coral_jupyter.widgets.diffview import DiffViewer

        commit = self._require_selection()
        if against == "parent":
            parents = self.repo.get_commit(commit).parent_hashes
            if not parents:
                raise CoralError("the first commit has no parent to compare with")
            base = parents[0]
        else:
            base = self.repo.resolve_ref("HEAD")
        viewer = DiffViewer(self.repo, base, commit)
        self.diff_area.clear_output()
        with self.diff_area:
            from IPython.display import display

            display(viewer)  # type: ignore[no-untyped-call]
        return viewer

    def _on_branch_choice(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._safely(lambda: self.filter_branch(change["new"] or None))

    def _on_ancestor_choice(self, change: dict[str, Any]) -> None:
        if not self._syncing:
            self._safely(lambda: self.highlight_ancestors(change["new"] or None))

    # --- drawing ---

    def _draw(self) -> None:
        nodes = self.model.nodes
        edge_x: list[float | None] = []
        edge_y: list[float | None] = []
        for lane0, row0, lane1, row1 in self.model.edges:
            edge_x += [lane0, lane1, None]
            edge_y += [row0, row1, None]
        traces: list[Any] = [
            go.Scatter(
                x=edge_x,
                y=edge_y,
                mode="lines",
                line={"color": theme.EDGE, "width": 2},
                hoverinfo="skip",
                showlegend=False,
                name="edges",
            )
        ]
        groups: dict[str, list[DagNode]] = {}
        for node in nodes:
            groups.setdefault(node.branch or "(no branch)", []).append(node)
        metrics = self._metrics()
        for i, (branch, members) in enumerate(sorted(groups.items())):
            traces.append(
                go.Scatter(
                    x=[n.lane for n in members],
                    y=[n.row for n in members],
                    mode="markers",
                    name=branch,
                    customdata=[n.commit.commit_hash for n in members],
                    hovertext=[
                        hover_text(n.commit, n.labels, metrics.get(n.commit.commit_hash, {}))
                        for n in members
                    ],
                    hoverinfo="text",
                    marker={
                        "size": 13,
                        "color": theme.PALETTE[i % len(theme.PALETTE)],
                        "symbol": [
                            "diamond" if n.commit.is_merge_commit else "circle" for n in members
                        ],
                        "opacity": [self._opacity(n) for n in members],
                        "line": {"width": 1, "color": "white"},
                    },
                )
            )
        labelled = [n for n in nodes if n.labels]
        traces.append(
            go.Scatter(
                x=[n.lane + 0.35 for n in labelled],
                y=[n.row for n in labelled],
                mode="text",
                text=[self._label(n) for n in labelled],
                textposition="middle right",
                textfont={"color": theme.TEXT, "size": 11},
                hoverinfo="skip",
                showlegend=False,
                name="labels",
            )
        )
        traces.append(self._selection_trace())
        width = max((n.lane for n in nodes), default=0) + 1
        with self.figure.batch_update():
            self.figure.data = ()
            self.figure.add_traces(traces)
            self.figure.layout.xaxis.range = [-0.5, width + 2.5]
            self.figure.layout.yaxis.range = [min(len(nodes), 18) + 0.5, -0.8]
        for trace in self.figure.data[1:-2]:
            trace.on_click(self._clicked)

    def _selection_trace(self) -> Any:
        node = self.model.position(self.selected) if self.selected else None
        return go.Scatter(
            x=[node.lane] if node else [],
            y=[node.row] if node else [],
            mode="markers",
            marker={
                "size": 24,
                "symbol": "circle-open",
                "color": theme.SELECTED,
                "line": {"width": 3},
            },
            hoverinfo="skip",
            showlegend=False,
            name="selected",
        )

    def _draw_selection(self) -> None:
        node = self.model.position(self.selected) if self.selected else None
        with self.figure.batch_update():
            trace = self.figure.data[-1]
            trace.x = [node.lane] if node else []
            trace.y = [node.row] if node else []

    def _label(self, node: DagNode) -> str:
        return ", ".join(node.labels)  # HEAD's included: "HEAD -> main", or "HEAD" detached

    def _opacity(self, node: DagNode) -> float:
        if self.highlighted is None:
            return 1.0
        return 1.0 if node.commit.commit_hash in self.highlighted else 0.2

    def _metrics(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for node in self.model.nodes:
            recorded = node.commit.metadata.extra.get("metrics")
            if isinstance(recorded, dict):
                out.setdefault(node.commit.commit_hash, {}).update(recorded)
        for v in self.repo.list_versions():
            if v.metrics:
                out.setdefault(v.commit_hash, {}).update(v.metrics)
        return out

    def _clicked(self, trace: Any, points: Any, state: Any) -> None:
        # Plotly calls this for every trace; only the clicked one has point indices.
        if points.point_inds:
            self._safely(lambda: self.select_commit(trace.customdata[points.point_inds[0]]))

    # --- the side panel ---

    def _show_panel(self) -> None:
        if self.selected is None:
            self.panel.value = paragraph("<i>Click a commit to see it here.</i>")
            return
        view = self.repo.show(self.selected)
        parts = [commit_html(view.commit)]
        labels = list(view.branches) + [f"tag: {t}" for t in view.tags]
        if labels:
            parts.append(paragraph("refs: " + esc(", ".join(labels))))
        for tag, values in view.metrics.items():
            if values:
                shown = ", ".join(f"{k}={v:g}" for k, v in values.items())
                parts.append(paragraph(f"{esc(tag)}: {esc(shown)}"))
        parts.append(self._changes_html(view.commit))
        self.panel.value = "".join(parts)

    def _changes_html(self, commit: Commit) -> str:
        if not commit.parent_hashes:
            names = sorted(commit.weight_hashes)
            return block(f"{len(names)} weights (first commit)")
        parent = commit.parent_hashes[0]
        size = sum(self.repo.store.info(oid).raw_nbytes for oid in commit.weight_hashes.values())
        diff = self.repo.diff(parent, commit.commit_hash, stats=size < _STATS_BYTES)
        shapes = shapes_of(self.repo.get_commit(parent), commit)
        return DiffView(diff, parent[:8], commit.short_hash, shapes)._repr_html_()

    def _require_selection(self) -> str:
        if self.selected is None:
            raise CoralError("select a commit first (click a node)")
        return self.selected

    def _say(self, text: str, error: bool = False) -> None:
        colour = theme.SELECTED if error else theme.TEXT
        self.message.value = f'<span style="color:{colour}">{esc(text)}</span>'

    def _safely(self, action: Callable[[], Any]) -> None:
        """Run a button's or click's action; a Coral error becomes a message in the panel
        (a widget callback has nowhere else to show it)."""
        try:
            action()
        except CoralError as err:
            self._say(str(err), error=True)

    def static_html(self) -> str:
        commits = [n.commit for n in self.model.nodes]
        return LogView(commits)._repr_html_()
