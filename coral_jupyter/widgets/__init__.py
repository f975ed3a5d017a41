"""Interactive views of a repository (ipywidgets + Plotly ``FigureWidget``): the commit-DAG
explorer, the side-by-side weight diff viewer, metrics across versions, the runs table and
the comparison of two runs."""

from coral_jupyter.widgets.compare import RunComparison
from coral_jupyter.widgets.dag import DagExplorer, DagModel
from coral_jupyter.widgets.diffview import DiffViewer
from coral_jupyter.widgets.metrics import MetricsPlot
from coral_jupyter.widgets.runs_table import RunsTable

__all__ = ["DagExplorer", "DagModel", "DiffViewer", "MetricsPlot", "RunComparison", "RunsTable"]
