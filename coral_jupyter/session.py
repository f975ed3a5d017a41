"""The notebook's current repository.

``%coral init [path]`` and ``%coral open [path]`` choose it; until then the nearest ``.coral``
above the kernel's working directory is used (found on first use, like git). Plain Python gets
the same object from :func:`coral_jupyter.session`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coral.errors import NotARepositoryError
from coral.runs import Run
from coral.version_control import Repository
from coral_jupyter.commands import execute


class Session:
    """Holds the current :class:`~coral.version_control.Repository` of a kernel."""

    def __init__(self, start: str | Path | None = None) -> None:
        self._start = Path(start) if start is not None else None
        self._repo: Repository | None = None
        self.explorer: Any = None
        """The last DAG explorer opened (``%coral metrics`` selects in it)."""
        self.active_run: Run | None = None
        """The run ``%coral run start`` opened (``run log``/``commit``/``end`` act on it)."""

    @property
    def repo(self) -> Repository:
        """The current repository; raises :class:`NotARepositoryError` (with what to do)
        when none was chosen and none encloses the working directory."""
        if self._repo is None:
            where = self._start or Path.cwd()
            try:
                self._repo = Repository(where)
            except NotARepositoryError:
                raise NotARepositoryError(
                    f"no Coral repository at or above {where}; create one with "
                    "%coral init [PATH] or choose one with %coral open PATH"
                ) from None
        return self._repo

    @property
    def has_repo(self) -> bool:
        return self._repo is not None

    def init(self, path: str | Path | None = None) -> Repository:
        """Create (or reuse) a repository at ``path`` (default: the working directory) and
        make it current."""
        self._replace(Repository(Path(path) if path else Path.cwd(), init=True))
        return self.repo

    def open(self, path: str | Path | None = None) -> Repository:
        """Make the repository at or above ``path`` current."""
        self._replace(Repository(Path(path) if path else Path.cwd()))
        return self.repo

    def _replace(self, repo: Repository) -> None:
        if self._repo is not None and self._repo is not repo:
            if self.active_run is not None:  # its points are journalled: nothing is lost
                self.active_run.close()
                self.active_run = None
            self._repo.close()
        self._repo = repo

    def run(self, line: str, namespace: dict[str, Any] | None = None) -> Any:
        """Run a ``%coral`` command line from plain Python, e.g.
        ``session().run('commit -m "epoch 3" model', globals())``."""
        return execute(self, line, namespace if namespace is not None else {})


_SESSION = Session()


def session() -> Session:
    """The kernel's Coral session (the one the ``%coral`` magics use)."""
    return _SESSION
