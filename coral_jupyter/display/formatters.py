"""Rich HTML for Coral's own objects in IPython, registered from outside the core.

``coral`` knows nothing about notebooks; loading the extension (or importing
``coral_jupyter`` inside IPython) teaches IPython's HTML formatter how to show a
``Repository``, ``Commit``, ``CommitView``, ``Status``, ``Version`` and ``MergePlan``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coral.version_control import Commit, CommitView, MergePlan, Repository, Status, Version
from coral_jupyter.display.views import (
    commit_html,
    commit_view_html,
    merge_plan_html,
    repository_html,
    status_html,
    version_html,
)

RENDERERS: dict[type, Callable[[Any], str]] = {
    Repository: repository_html,
    Commit: commit_html,
    CommitView: commit_view_html,
    Status: status_html,
    Version: version_html,
    MergePlan: merge_plan_html,
}


def register(shell: Any) -> None:
    """Install the HTML renderers in ``shell``'s display formatter."""
    html = shell.display_formatter.formatters["text/html"]
    for cls, render in RENDERERS.items():
        html.for_type(cls, render)


def unregister(shell: Any) -> None:
    html = shell.display_formatter.formatters["text/html"]
    for cls in RENDERERS:
        html.type_printers.pop(cls, None)
