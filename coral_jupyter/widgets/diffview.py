"""The side-by-side weight diff viewer: every tensor's change at a glance, one tensor in detail.

The overview ranks tensors by relative change (hover: cosine similarity, fraction of elements
changed); picking one (click, or :meth:`DiffViewer.select_tensor`) shows A, B and B − A side by
side as heatmaps (downsampled in Python to at most 65,536 cells each), their histograms, and
the numbers: L2, relative L2, max |Δ|, sign flips, and for matrices the effective rank of the
change, which is small when an update is low-rank (LoRA-like).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from coral.errors import CoralError, WeightNotFoundError
from coral.history.diff import diff_commits
from coral.version_control import Repository
from coral_jupyter.display.html import block, esc, mono, table
from coral_jupyter.display.views import DiffView
from coral_jupyter.widgets import theme
from coral_jupyter.widgets.static import StaticFallback
from coral_jupyter.widgets.tensor_view import (
    ChangeNumbers,
    as_matrix,
    change_numbers,
    downsample,
    histogram,
)

_KEEP_BYTES = 512 << 20
"""Tensors read for the overview are kept (up to this) so selecting one does not read it again."""


class DiffViewer(StaticFallback):
    """Compare the weights of two refs (``b`` defaults to HEAD).

    Example:
        >>> viewer = DiffViewer(repo, "main~1", "main")   # doctest: +SKIP
        >>> viewer.select_tensor("encoder.weight")        # doctest: +SKIP
    """

    def __init__(self, repo: Repository, a: str, b: str = "HEAD") -> None:
        self.repo = repo
        self.a_label, self.b_label = a, b
        self.a = repo.get_commit(a)
        self.b = repo.get_commit(b)
        self._arrays: dict[str, np.ndarray] = {}  # tensors read for the overview, kept for detail
        self.diff = diff_commits(self.a, self.b, self._load)
        self.selected: str | None = None
        self.numbers: ChangeNumbers | None = None
        self.hide_unchanged = widgets.Checkbox(value=True, description="hide unchanged")
        self.search = widgets.Text(placeholder="filter by name", layout={"width": "220px"})
        self.overview = go.FigureWidget(
            layout=theme.base_layout(
                height=260,
                xaxis=theme.axis(title="relative change ‖B−A‖/‖A‖", type="log"),
                yaxis=theme.axis(automargin=True),
                title={"text": f"{esc(a)} → {esc(b)}", "font": {"size": 12}},
            )
        )
        self.detail = go.FigureWidget(
            make_subplots(
                rows=2,
                cols=3,
                subplot_titles=("A", "B", "B − A", "histogram A", "histogram B", "histogram B − A"),
                vertical_spacing=0.12,
                horizontal_spacing=0.06,
            )
        )
        self.detail.update_layout(theme.base_layout(height=520, showlegend=False))
        self.summary = widgets.HTML(self._added_removed_html())
        self.numbers_html = widgets.HTML()
        self.hide_unchanged.observe(lambda _: self._draw_overview(), "value")
        self.search.observe(lambda _: self._draw_overview(), "value")
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.hide_unchanged, self.search]),
                self.summary,
                self.overview,
                self.numbers_html,
                self.detail,
            ]
        )
        self._draw_overview()
        ranked = self.ranked_names()
        if ranked:
            self.select_tensor(ranked[0])

    # --- data ---

    def ranked_names(self) -> list[str]:
        """Tensors present on both sides, most changed first, after the filters."""
        stats = {
            name: entry["stats"].get("relative_l2", 0.0)
            for name, entry in self.diff["modified"].items()
        }
        if not self.hide_unchanged.value:
            common = self.a.weight_hashes.keys() & self.b.weight_hashes.keys()
            stats.update({n: 0.0 for n in common if n not in stats})
        needle = self.search.value.strip().lower()
        names = [n for n in stats if needle in n.lower()]
        return sorted(names, key=lambda n: (-stats[n], n))

    def select_tensor(self, name: str) -> ChangeNumbers:
        """Show one tensor in detail; returns its change numbers."""
        if name not in self.a.weight_hashes or name not in self.b.weight_hashes:
            raise WeightNotFoundError(f"{name!r} is not in both {self.a_label} and {self.b_label}")
        a = self._load(self.a.weight_hashes[name])
        b = self._load(self.b.weight_hashes[name])
        if a.shape != b.shape:
            raise CoralError(f"{name} changed shape ({a.shape} -> {b.shape}): nothing to compare")
        self.selected = name
        fa, fb = as_matrix(a), as_matrix(b)
        delta = fb - fa
        self.numbers = change_numbers(a, b, delta)
        self._draw_detail(name, fa, fb, delta, a.ndim <= 1)
        self.numbers_html.value = self._numbers_html(name, a, self.numbers)
        return self.numbers

    def _load(self, oid: str) -> np.ndarray:
        """A tensor by object ID; kept while the kept ones stay under the memory budget."""
        if oid in self._arrays:
            return self._arrays[oid]
        array = self.repo.store.read(oid)
        if sum(a.nbytes for a in self._arrays.values()) + array.nbytes <= _KEEP_BYTES:
            self._arrays[oid] = array
        return array

    # --- drawing ---

    def _draw_overview(self) -> None:
        names = self.ranked_names()[:60]
        modified = self.diff["modified"]
        changed = [modified.get(n, {}).get("stats", {}).get("relative_l2", 0.0) for n in names]
        # Log axis: bars start a decade below the smallest change (a bar from 0 would be
        # infinitely long); unchanged tensors get a stub so they can still be clicked.
        floor = min((v for v in changed if v > 0), default=1.0) / 10
        values = [max(v, floor * 2) - floor for v in changed]  # bars span [floor, change]
        hover = []
        for n in names:
            s = modified.get(n, {}).get("stats", {})
            hover.append(
                f"{esc(n)}<br>relative change {s.get('relative_l2', 0):.3g}"
                f"<br>cosine {s.get('cosine_similarity', 1):.6f}"
                f"<br>changed {s.get('fraction_changed', 0):.1%} of elements"
            )
        with self.overview.batch_update():
            self.overview.data = ()
            self.overview.add_bar(
                x=values[::-1],
                y=names[::-1],
                orientation="h",
                base=floor,
                customdata=names[::-1],
                hovertext=hover[::-1],
                hoverinfo="text",
                marker={"color": theme.PALETTE[1]},
            )
            self.overview.layout.height = max(200, 40 + 16 * len(names))
        self.overview.data[0].on_click(self._clicked)

    def _draw_detail(
        self, name: str, a: np.ndarray, b: np.ndarray, delta: np.ndarray, one_dim: bool
    ) -> None:
        traces: list[tuple[Any, int, int]] = []
        if one_dim:
            for col, values in ((1, a), (2, b), (3, delta)):
                flat = downsample(values, mode="absmax" if col == 3 else "mean").reshape(-1)
                traces.append(
                    (
                        go.Scatter(y=flat, mode="lines", line={"color": theme.PALETTE[col - 1]}),
                        1,
                        col,
                    )
                )
        else:
            small_delta = downsample(delta, mode="absmax")
            limit = float(np.nanmax(np.abs(small_delta))) if small_delta.size else 0.0
            limit = limit if limit > 0 and np.isfinite(limit) else 1.0
            for col, values, mode, scale in (
                (1, a, "mean", theme.SEQUENTIAL),
                (2, b, "mean", theme.SEQUENTIAL),
                (3, delta, "absmax", theme.DIVERGING),
            ):
                small = (small_delta if col == 3 else downsample(values, mode=mode)).astype(
                    np.float32  # half the bytes to the browser; display precision
                )
                extra = {"zmid": 0, "zmin": -limit, "zmax": limit} if col == 3 else {}
                traces.append(
                    (go.Heatmap(z=small, colorscale=scale, showscale=col == 3, **extra), 1, col)
                )
        for col, values in ((1, a), (2, b), (3, delta)):
            counts, edges = histogram(values)
            centers = (edges[:-1] + edges[1:]) / 2 if counts.size else edges
            traces.append(
                (go.Bar(x=centers, y=counts, marker={"color": theme.PALETTE[col - 1]}), 2, col)
            )
        with self.detail.batch_update():
            self.detail.data = ()
            for trace, row, col in traces:
                self.detail.add_trace(trace, row=row, col=col)
            for axis in ("yaxis", "yaxis2", "yaxis3"):
                self.detail.layout[axis].autorange = "reversed" if not one_dim else True

    def _clicked(self, trace: Any, points: Any, state: Any) -> None:
        if points.point_inds:
            try:
                self.select_tensor(trace.customdata[points.point_inds[0]])
            except CoralError as err:
                self.numbers_html.value = f"<b>{esc(err)}</b>"

    def _numbers_html(self, name: str, a: np.ndarray, n: ChangeNumbers) -> str:
        rows = [
            ("shape / dtype", esc(f"{list(a.shape)} {a.dtype}")),
            ("‖B − A‖", f"{n.l2:.6g}"),
            ("relative ‖B − A‖ / ‖A‖", f"{n.relative_l2:.6g}"),
            ("max |B − A|", f"{n.max_abs:.6g}"),
            ("sign flips", f"{n.sign_flips:,} of {n.elements:,}"),
        ]
        if n.effective_rank is not None:
            rows.append(("effective rank of the change", f"{n.effective_rank:.2f}"))
            rows.append(("singular values for 90% of it", str(n.rank_90)))
        return block(f"{name}", table(["", ""], [(esc(k), v) for k, v in rows]))

    def _added_removed_html(self) -> str:
        added, removed = self.diff["added"], self.diff["removed"]
        if not added and not removed:
            return ""
        parts = []
        if added:
            parts.append("added: " + ", ".join(mono(n) for n in added))
        if removed:
            parts.append("removed: " + ", ".join(mono(n) for n in removed))
        return "<div>" + "<br>".join(parts) + "</div>"

    def static_html(self) -> str:
        return DiffView(self.diff, self.a_label, self.b_label)._repr_html_()
