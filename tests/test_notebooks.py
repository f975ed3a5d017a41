"""The example notebooks run top to bottom in a real kernel, and are committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("torch")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["01_quickstart.ipynb", "02_python_api.ipynb"])
def test_notebook_runs_top_to_bottom_with_rich_outputs(name: str, tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code_cells), (
        f"{name} must be committed with outputs cleared"
    )
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        store_widget_state=False,
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    html_outputs = [
        output
        for cell in code_cells
        for output in cell.outputs
        if "text/html" in output.get("data", {})
    ]
    assert len(html_outputs) >= 5
    errors = [o for c in code_cells for o in c.outputs if o.output_type == "error"]
    assert not errors
    if name == "01_quickstart.ipynb":  # the displays survive a static HTML export
        nbconvert = pytest.importorskip("nbconvert")
        page, _ = nbconvert.HTMLExporter().from_notebook_node(notebook)
        assert "Coral repository" in page and "Merge plan (dry run, nothing written)" in page
        assert "Metrics across versions" in page  # a widget's static fallback, not an error
