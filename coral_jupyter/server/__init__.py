"""The Jupyter server extension behind the Coral sidebar: an HTTP API under ``/coral/``.

Enabled automatically on install (``jupyter-config/server-config/coral_jupyter.json``); it
loads when ``coral_jupyter`` is listed in ``ServerApp.jpserver_extensions``.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "coral_jupyter.server"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    from coral_jupyter.server.handlers import setup_handlers

    setup_handlers(server_app.web_app)
    server_app.log.info("Coral server extension loaded: /coral/ API")
