"""Coral in Jupyter: the ``%coral`` magics and rich displays of repositories, commits, logs,
diffs, tags and merges.

Load it in a notebook with ``%load_ext coral_jupyter``; from plain Python,
:func:`session` gives the same current repository the magics use.
"""

from __future__ import annotations

from typing import Any

from coral.errors import MissingExtraError

try:
    import IPython  # noqa: F401  (the "jupyter" extra)
except ImportError:  # pragma: no cover - exercised without the extra only
    raise MissingExtraError.for_extra("IPython", "jupyter", "coral_jupyter") from None

from coral_jupyter.session import Session, session

__all__ = ["Session", "load_ipython_extension", "session", "unload_ipython_extension"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """``jupyter server extension enable coral_jupyter`` finds the server extension here."""
    return [{"module": "coral_jupyter.server"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built sidebar is (``jupyter labextension develop .`` links it from here)."""
    return [{"src": "labextension", "dest": "coral-jupyter"}]


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext coral_jupyter``: the magics, their tab completion, the rich displays."""
    from coral_jupyter.completion import complete_hook
    from coral_jupyter.display.formatters import register
    from coral_jupyter.magics import CoralMagics

    shell.register_magics(CoralMagics(shell, session()))
    shell.set_hook("complete_command", complete_hook(session()), str_key="%coral")
    register(shell)


def unload_ipython_extension(shell: Any) -> None:
    from coral_jupyter.display.formatters import unregister

    unregister(shell)


def _register_displays_if_in_ipython() -> None:
    # `import coral_jupyter` in a notebook is enough for Coral objects to display richly.
    from IPython.core.getipython import get_ipython

    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        from coral_jupyter.display.formatters import register

        register(shell)


_register_displays_if_in_ipython()
