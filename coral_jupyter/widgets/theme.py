"""Colours and figure defaults that read well on JupyterLab's light and dark themes:
transparent backgrounds, mid-grey text and grid, saturated marks."""

from __future__ import annotations

from typing import Any

from coral_jupyter.display.html import LANE_COLORS

TEXT = "#8a8a8a"
GRID = "rgba(128,128,128,0.25)"
EDGE = "rgba(128,128,128,0.7)"
SELECTED = "#e6550d"
DIVERGING = "RdBu_r"
SEQUENTIAL = "Viridis"
PALETTE = LANE_COLORS


def base_layout(**overrides: Any) -> dict[str, Any]:
    """Layout settings shared by every Coral figure."""
    layout: dict[str, Any] = {
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": TEXT, "size": 11},
        "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
        "hoverlabel": {"font": {"size": 11}},
    }
    layout.update(overrides)
    return layout


def axis(**overrides: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {"gridcolor": GRID, "zerolinecolor": GRID, "color": TEXT}
    settings.update(overrides)
    return settings
