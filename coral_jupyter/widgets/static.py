"""Widgets that still show something without a widget front end.

A widget's display bundle carries the live view (``application/vnd.jupyter.widget-view+json``,
which JupyterLab prefers) *and* a static HTML rendering of the same content, which nbconvert,
GitHub and kernels without the front-end packages show instead of an error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class StaticFallback(ABC):
    """Mixin: ``self.widget`` is the live ipywidget; :meth:`static_html` the fallback."""

    widget: Any

    @abstractmethod
    def static_html(self) -> str:
        """The same content as static HTML."""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        return bundle
