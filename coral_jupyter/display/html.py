"""Small HTML building blocks for Coral's notebook displays.

Everything is static HTML with inline styles and inline SVG: it renders the same in JupyterLab,
classic Notebook, VS Code and nbconvert's HTML export, with no JavaScript. Every user-supplied
string (names, messages, authors, metric keys) goes through :func:`esc`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from datetime import datetime

from coral.history.graph_layout import GraphRow

_TABLE = (
    "border-collapse:collapse;font-size:12px;font-family:var(--jp-ui-font-family,sans-serif);"
    "margin:4px 0"
)
_CELL = "padding:2px 8px;text-align:left;vertical-align:middle;border-bottom:1px solid #8883"
_HEAD = _CELL + ";font-weight:600"
_MONO = "font-family:var(--jp-code-font-family,monospace)"
LANE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2")


def esc(value: object) -> str:
    """``value`` as text, safe inside HTML elements and attributes."""
    return html.escape(str(value), quote=True)


def mono(value: object, title: str | None = None) -> str:
    attr = f' title="{esc(title)}"' if title else ""
    return f'<span style="{_MONO}"{attr}>{esc(value)}</span>'


def short_hash(commit_hash: str | None) -> str:
    return mono(commit_hash[:8], commit_hash) if commit_hash else "<i>none</i>"


def when(ts: datetime | None) -> str:
    return esc(ts.strftime("%Y-%m-%d %H:%M")) if ts else ""


def badge(text: str, color: str = "#1f77b4") -> str:
    style = (
        f"display:inline-block;padding:0 5px;margin-right:3px;border-radius:8px;"
        f"font-size:11px;color:#fff;background:{color}"
    )
    return f'<span style="{style}">{esc(text)}</span>'


def bar(fraction: float, color: str = "#1f77b4", width: int = 80) -> str:
    """A horizontal bar for a value in [0, 1] (clipped)."""
    filled = max(0.0, min(1.0, fraction)) * width
    return (
        f'<span style="display:inline-block;width:{width}px;height:8px;background:#8882">'
        f'<span style="display:block;width:{filled:.0f}px;height:8px;background:{color}">'
        "</span></span>"
    )


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, flush_column: int | None = None
) -> str:
    """A table; ``headers`` are text (escaped here), cells are HTML already. The cells of
    ``flush_column`` have no padding or border, so drawings in it join from row to row."""
    flush = "padding:0;border:none;vertical-align:top"
    head = "".join(f'<th style="{_HEAD}">{esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="{flush if i == flush_column else _CELL}">{cell}</td>'
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f'<table style="{_TABLE}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def block(title: str, *parts: str) -> str:
    """A titled box around ``parts`` (HTML)."""
    return (
        '<div style="font-family:var(--jp-ui-font-family,sans-serif);font-size:12px">'
        f'<div style="font-weight:600;margin:2px 0">{esc(title)}</div>' + "".join(parts) + "</div>"
    )


def paragraph(text_html: str) -> str:
    return f'<div style="margin:2px 0">{text_html}</div>'


def graph_cell(row: GraphRow, width: int, lane_px: int = 14, height: int = 22) -> str:
    """An inline SVG drawing of one row of a commit graph (lines in, node, lines out)."""

    def x(lane: int) -> float:
        return lane * lane_px + lane_px / 2

    def color(lane: int) -> str:
        return LANE_COLORS[lane % len(LANE_COLORS)]

    mid = height / 2
    parts = []
    for lane, ends_here in row.incoming:
        end_x, end_y = (x(row.lane), mid) if ends_here else (x(lane), height)
        parts.append(
            f'<line x1="{x(lane)}" y1="0" x2="{end_x}" y2="{end_y}" '
            f'stroke="{color(lane)}" stroke-width="2"/>'
        )
    for lane in row.outgoing:
        parts.append(
            f'<line x1="{x(row.lane)}" y1="{mid}" x2="{x(lane)}" y2="{height}" '
            f'stroke="{color(lane)}" stroke-width="2"/>'
        )
    radius = 5 if row.commit.is_merge_commit else 4
    fill = "#fff" if row.commit.is_merge_commit else color(row.lane)
    parts.append(
        f'<circle cx="{x(row.lane)}" cy="{mid}" r="{radius}" fill="{fill}" '
        f'stroke="{color(row.lane)}" stroke-width="2"/>'
    )
    return (
        f'<svg width="{width * lane_px}" height="{height}" style="display:block">'
        + "".join(parts)
        + "</svg>"
    )
