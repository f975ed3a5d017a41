"""Tornado handlers of the sidebar's API, under ``/coral/``: one route table, authenticated
``APIHandler``s, paths confined to the server's root, Coral errors mapped to HTTP codes with
their message (the jupyterlab-git pattern)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado.ioloop import IOLoop

from coral.errors import (
    AmbiguousRefError,
    ConcurrentUpdateError,
    CoralError,
    InvalidNameError,
    InvalidValueError,
    LockTimeoutError,
    NotARepositoryError,
    RefExistsError,
    RefNotFoundError,
    StagedChangesError,
    WeightNotFoundError,
)
from coral.version_control import Repository
from coral_jupyter.server import api

_STATUS: list[tuple[type[CoralError], int]] = [
    (NotARepositoryError, 404),
    (RefNotFoundError, 404),
    (WeightNotFoundError, 404),
    (RefExistsError, 409),
    (StagedChangesError, 409),
    (ConcurrentUpdateError, 409),
    (LockTimeoutError, 503),
    (AmbiguousRefError, 400),
    (InvalidNameError, 400),
    (InvalidValueError, 400),
]


def _inside(path: Path, root: Path) -> bool:
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def status_of(error: CoralError) -> int:
    """The HTTP status for a Coral error (400 for the ones not listed)."""
    for cls, code in _STATUS:
        if isinstance(error, cls):
            return code
    return 400


class CoralHandler(APIHandler):
    """Base: resolves ``path`` under the server root and turns Coral errors into JSON."""

    @property
    def root(self) -> Path:
        return Path(self.settings["server_root_dir"]).resolve()

    def directory(self, path: str | None) -> Path:
        """``path`` (relative to the server root) as a directory inside the root."""
        relative = (path or "").strip("/")
        target = (self.root / relative).resolve()
        if not _inside(target, self.root):
            raise tornado.web.HTTPError(403, reason=f"{path!r} is outside the server root")
        if target.is_file():
            target = target.parent
        if not target.is_dir():
            raise tornado.web.HTTPError(404, reason=f"no directory {relative!r}")
        return target

    def find(self, path: str | None) -> tuple[Path, Repository | None]:
        """The directory ``path`` and the repository at or above it, if that is inside the
        server root (one above the root is not ours to show)."""
        directory = self.directory(path)
        return directory, api.open_repository(directory, self.root)

    def repository(self, path: str | None = None) -> Repository:
        """The repository for ``path`` (default: the ``path`` query argument)."""
        directory, repo = self.find(self.get_argument("path", "") if path is None else path)
        if repo is None:
            raise NotARepositoryError(
                f"no Coral repository at or above /{api.relative(directory, self.root)}; "
                "create one with the Init button"
            )
        return repo

    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError:
            raise tornado.web.HTTPError(400, reason="the request body is not JSON") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, reason="the request body must be a JSON object")
        return data

    async def respond(self, produce: Callable[[], Any]) -> None:
        """Run ``produce`` in a worker thread (reading a long history must not stall the
        server's event loop, which serves every kernel and tab) and answer with its JSON."""
        try:
            result = await IOLoop.current().run_in_executor(None, produce)
        except CoralError as err:
            self.set_status(status_of(err))
            self.finish(json.dumps({"error": type(err).__name__, "message": str(err)}))
            return
        self.finish(json.dumps(result))


def _get(produce: Callable[[CoralHandler], Any]) -> type[CoralHandler]:
    class Handler(CoralHandler):
        @tornado.web.authenticated
        async def get(self) -> None:
            await self.respond(lambda: produce(self))

    return Handler


def _post(produce: Callable[[CoralHandler, dict[str, Any]], Any]) -> type[CoralHandler]:
    class Handler(CoralHandler):
        @tornado.web.authenticated
        async def post(self) -> None:
            data = self.body()
            await self.respond(lambda: produce(self, data))

    return Handler


def _summary(h: CoralHandler) -> Any:
    directory, repo = h.find(h.get_argument("path", ""))
    return api.summary(repo, directory, h.root)


def _int(h: CoralHandler, name: str, default: int) -> int:
    try:
        return int(h.get_argument(name, str(default)))
    except ValueError:
        raise InvalidValueError(f"{name} must be an integer") from None


def _string(data: dict[str, Any], key: str, required: bool = True) -> Any:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidValueError(f"{key!r} must be a non-empty string")
    return value


def _init(h: CoralHandler, data: dict[str, Any]) -> Any:
    directory = h.directory(data.get("path"))
    repo = Repository(directory, init=True)
    return api.summary(repo, directory, h.root)


def _checkout(h: CoralHandler, data: dict[str, Any]) -> Any:
    repo = h.repository(str(data.get("path") or ""))
    commit = repo.checkout(_string(data, "ref"))
    return {"branch": repo.current_branch, "head": commit.commit_hash}


def _branch(h: CoralHandler, data: dict[str, Any]) -> Any:
    repo = h.repository(str(data.get("path") or ""))
    branch = repo.create_branch(_string(data, "name"), from_ref=_string(data, "from", False))
    return {"name": branch.name, "commit": branch.commit_hash}


def _tag(h: CoralHandler, data: dict[str, Any]) -> Any:
    repo = h.repository(str(data.get("path") or ""))
    metrics = data.get("metrics")
    if metrics is not None and not isinstance(metrics, dict):
        raise InvalidValueError("'metrics' must be an object of name -> number")
    version = repo.tag_version(
        _string(data, "name"),
        _string(data, "description", False),
        metrics,
        _string(data, "ref", False),
    )
    return {"name": version.name, "commit": version.commit_hash}


ROUTES: list[tuple[str, type[CoralHandler]]] = [
    ("version", _get(lambda h: api.version())),
    ("repo", _get(_summary)),
    ("branches", _get(lambda h: api.branches(h.repository()))),
    ("tags", _get(lambda h: api.tags(h.repository()))),
    (
        "commits",
        _get(lambda h: api.commits(h.repository(), _int(h, "offset", 0), _int(h, "limit", 100))),
    ),
    ("commit", _get(lambda h: api.commit_details(h.repository(), h.get_argument("ref", "HEAD")))),
    (
        "diff",
        _get(lambda h: api.diff(h.repository(), h.get_argument("a"), h.get_argument("b", "HEAD"))),
    ),
    ("init", _post(_init)),
    ("checkout", _post(_checkout)),
    ("branch", _post(_branch)),
    ("tag", _post(_tag)),
]


def setup_handlers(web_app: Any) -> None:
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$", [(url_path_join(base, "coral", name), handler) for name, handler in ROUTES]
    )
