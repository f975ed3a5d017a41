"""The sidebar's HTTP API through a real Jupyter server (pytest-jupyter's ``jp_fetch``):
every route, authentication, paths confined to the root, Coral errors as HTTP codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("pytest_jupyter")
tornado_httpclient = pytest.importorskip("tornado.httpclient")

from coral.version_control import Repository  # noqa: E402

pytest_plugins = ["pytest_jupyter.jupyter_server"]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"coral_jupyter": True}}}


@pytest.fixture
def project(jp_root_dir: Path) -> Repository:
    repo = Repository(jp_root_dir / "proj", init=True)
    repo.stage_weights({"w": np.zeros(3, np.float32), "b": np.ones(2, np.float32)})
    repo.commit("first", metrics={"loss": 1.0})
    repo.create_branch("exp")
    repo.checkout("exp")
    repo.stage_weights({"w": np.ones(3, np.float32)}, partial=True)
    repo.commit("on exp")
    repo.tag_version("v1", "exp result", {"acc": 0.9})
    repo.checkout("main")
    (jp_root_dir / "proj" / "notebooks").mkdir()
    return repo


async def _get(jp_fetch: Any, route: str, **params: Any) -> tuple[int, Any]:
    try:
        response = await jp_fetch("coral", route, params=params)
    except tornado_httpclient.HTTPClientError as err:
        body = err.response.body if err.response is not None else b"{}"
        return err.code, json.loads(body or b"{}")
    return response.code, json.loads(response.body)


async def _post(jp_fetch: Any, route: str, data: Any) -> tuple[int, Any]:
    try:
        response = await jp_fetch("coral", route, method="POST", body=json.dumps(data))
    except tornado_httpclient.HTTPClientError as err:
        body = err.response.body if err.response is not None else b"{}"
        return err.code, json.loads(body or b"{}")
    return response.code, json.loads(response.body)


async def test_version_comes_from_the_package(jp_fetch: Any) -> None:
    from coral import __version__

    assert await _get(jp_fetch, "version") == (200, {"version": __version__})


async def test_repository_summary_from_a_notebook_folder(
    jp_fetch: Any, project: Repository
) -> None:
    code, body = await _get(jp_fetch, "repo", path="proj/notebooks")
    assert code == 200 and body["found"] and body["root"] == "proj"
    assert body["branch"] == "main" and body["branches"] == 2 and body["tags"] == 1
    code, body = await _get(jp_fetch, "repo", path="")
    assert code == 200 and body == {"found": False, "directory": ""}


async def test_summary_state_changes_with_anything_the_sidebar_shows(
    jp_fetch: Any, project: Repository
) -> None:
    async def state() -> str:
        return str((await _get(jp_fetch, "repo", path="proj"))[1]["state"])

    first = await state()
    assert await state() == first  # polling an unchanged repository: same token
    project.stage_weights({"b": np.zeros(2, np.float32)}, partial=True)
    staged = await state()
    assert staged != first
    assert (await _get(jp_fetch, "repo", path="proj"))[1]["staged"] == {
        "added": 0,
        "modified": 1,
        "removed": 0,
    }
    project.commit("from a kernel")
    committed = await state()
    project.create_branch("elsewhere")
    branched = await state()
    project.tag_version("v2", None, {"acc": 0.95})
    assert len({first, staged, committed, branched, await state()}) == 5


async def test_branches_tags_commits_commit_and_diff(jp_fetch: Any, project: Repository) -> None:
    code, branches = await _get(jp_fetch, "branches", path="proj")
    assert code == 200 and [(b["name"], b["current"]) for b in branches] == [
        ("exp", False),
        ("main", True),
    ]
    code, tags = await _get(jp_fetch, "tags", path="proj")
    assert tags[0]["name"] == "v1" and tags[0]["metrics"] == {"acc": 0.9}
    code, page = await _get(jp_fetch, "commits", path="proj", offset=0, limit=1)
    assert page["total"] == 2 and len(page["commits"]) == 1
    newest = page["commits"][0]
    assert newest["message"] == "on exp" and "exp" in newest["refs"] and newest["lane"] == 0
    code, rest = await _get(jp_fetch, "commits", path="proj", offset=1, limit=10)
    assert [c["message"] for c in rest["commits"]] == ["first"]
    assert "HEAD -> main" in rest["commits"][0]["refs"]
    code, details = await _get(jp_fetch, "commit", path="proj", ref="exp")
    assert details["changes"]["modified"] == ["w"] and details["tags"] == ["v1"]
    assert details["weights"]["w"] == {"shape": [3], "dtype": "float32"}
    code, diff = await _get(jp_fetch, "diff", path="proj", a="main", b="exp")
    assert diff["modified"] == ["w"] and diff["summary"]["total_unchanged"] == 1


async def test_actions_checkout_branch_tag_and_init(
    jp_fetch: Any, project: Repository, jp_root_dir: Path
) -> None:
    assert (await _post(jp_fetch, "checkout", {"path": "proj", "ref": "exp"}))[0] == 200
    assert Repository(project.path).current_branch == "exp"
    code, made = await _post(jp_fetch, "branch", {"path": "proj", "name": "new", "from": "main"})
    assert code == 200 and made["commit"] == project.resolve_ref("main")
    code, _ = await _post(
        jp_fetch, "tag", {"path": "proj", "name": "v2", "ref": "main", "metrics": {"loss": 0.5}}
    )
    assert code == 200 and Repository(project.path).get_version("v2").metrics == {"loss": 0.5}
    (jp_root_dir / "fresh").mkdir()
    code, created = await _post(jp_fetch, "init", {"path": "fresh"})
    assert code == 200 and created["found"] and created["root"] == "fresh"


@pytest.mark.parametrize(
    ("method", "route", "data", "status", "error"),
    [
        ("GET", "branches", {"path": ""}, 404, "NotARepositoryError"),
        ("GET", "commit", {"path": "proj", "ref": "nope"}, 404, "RefNotFoundError"),
        ("GET", "commits", {"path": "proj", "limit": 0}, 400, "InvalidValueError"),
        ("GET", "commits", {"path": "proj", "offset": "x"}, 400, "InvalidValueError"),
        ("POST", "branch", {"path": "proj", "name": "main"}, 409, "RefExistsError"),
        ("POST", "branch", {"path": "proj", "name": "../x"}, 400, "InvalidNameError"),
        ("POST", "tag", {"path": "proj", "name": "v1"}, 409, "RefExistsError"),
        ("POST", "tag", {"path": "proj", "name": "t", "metrics": [1]}, 400, "InvalidValueError"),
        ("POST", "checkout", {"path": "proj"}, 400, "InvalidValueError"),
        ("POST", "checkout", {"path": "proj", "ref": "nope"}, 404, "RefNotFoundError"),
    ],
)
async def test_coral_errors_become_http_errors_with_their_message(
    jp_fetch: Any,
    project: Repository,
    method: str,
    route: str,
    data: dict[str, Any],
    status: int,
    error: str,
) -> None:
    before = (project.head, [b.name for b in project.branch_manager.list_branches()])
    if method == "GET":
        code, body = await _get(jp_fetch, route, **data)
    else:
        code, body = await _post(jp_fetch, route, data)
    assert code == status and body["error"] == error and body["message"]
    fresh = Repository(project.path)
    assert (fresh.head, [b.name for b in fresh.branch_manager.list_branches()]) == before


@pytest.mark.parametrize("path", ["..", "../..", "/etc", "proj/../../x"])
async def test_paths_outside_the_root_are_refused(
    jp_fetch: Any, project: Repository, path: str
) -> None:
    code, _ = await _get(jp_fetch, "repo", path=path)
    assert code in (403, 404)
    code, _ = await _post(jp_fetch, "init", {"path": path})
    assert code in (403, 404)
    assert not (Path("/etc") / ".coral").exists()


def _route_names() -> list[str]:
    from coral_jupyter.server.handlers import ROUTES

    return [name for name, _ in ROUTES]


@pytest.mark.parametrize("route", _route_names())
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_every_route_refuses_requests_without_a_token(
    jp_fetch: Any, project: Repository, route: str, method: str
) -> None:
    before = (project.head, [b.name for b in project.branch_manager.list_branches()])
    body = json.dumps({"path": "proj", "name": "x", "ref": "exp"}) if method == "POST" else None
    with pytest.raises(tornado_httpclient.HTTPClientError) as caught:
        await jp_fetch(
            "coral",
            route,
            method=method,
            body=body,
            params={"path": "proj"},
            headers={"Authorization": ""},
        )
    assert caught.value.code in (401, 403, 405)
    fresh = Repository(project.path)
    assert (fresh.head, [b.name for b in fresh.branch_manager.list_branches()]) == before


async def test_a_symlink_out_of_the_root_is_refused(
    jp_fetch: Any, jp_root_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    outside = tmp_path_factory.mktemp("outside")
    Repository(outside / "secret", init=True)
    (jp_root_dir / "link").symlink_to(outside / "secret")
    code, _ = await _get(jp_fetch, "repo", path="link")
    assert code in (403, 404)
    code, _ = await _post(jp_fetch, "branch", {"path": "link", "name": "x"})
    assert code in (403, 404)
    assert Repository(outside / "secret").branch_manager.list_branches() == []


def test_the_server_extension_is_enabled_on_install() -> None:
    import subprocess
    import sys

    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        check=True,
    )
    output = listing.stdout + listing.stderr
    assert "coral_jupyter" in output and "enabled" in output.split("coral_jupyter", 1)[1][:40]


async def test_a_repository_above_the_root_is_neither_shown_nor_touched(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    outer = jp_root_dir.parent
    created = not (outer / ".coral").exists()
    if created:
        Repository(outer, init=True)
    try:
        (outer / ".coral" / "tmp").rename(outer / ".coral" / "tmp-moved")
        code, body = await _get(jp_fetch, "repo", path="")
        assert code == 200 and body["found"] is False
        assert not (outer / ".coral" / "tmp").exists()  # nothing was opened there
    finally:
        (outer / ".coral" / "tmp-moved").rename(outer / ".coral" / "tmp")
        if created:
            import shutil

            shutil.rmtree(outer / ".coral")
