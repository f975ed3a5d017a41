"""Interactive views of a repository (ipywidgets + Plotly ``FigureWidget``): the commit-DAG
explorer, the side-by-side weight diff viewer and metrics across versions."""

from coral_jupyter.widgets.dag import DagExplorer, DagModel
from coral_jupyter.widgets.diffview import DiffViewer
from coral_jupyter.widgets.metrics import MetricsPlot

__all__ = ["DagExplorer", "DagModel", "DiffViewer", "MetricsPlot"]
