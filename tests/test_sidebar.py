"""The Coral sidebar in a real JupyterLab and headless Chromium: it finds the repository of
the open notebook's folder, shows branches and the commit graph, switches branch, follows
changes made outside it, inserts and runs ``%coral dag`` in the notebook, offers Init where
there is no repository, and stays readable in the dark theme.

``CORAL_UPDATE_SCREENSHOTS=1`` writes ``docs/images/sidebar.png`` (the README's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from coral.version_control import Repository
from coral_jupyter.server import api
from tests.lab_browser import (  # noqa: F401 (fixtures)
    browser_marks,
    jp_asyncio_loop,
    jp_server_cleanup,
    open_notebook,
    screenshot,
    write_notebook,
)

pytest.importorskip("playwright.sync_api")
pytestmark = browser_marks

SIDEBAR = "#coral-sidebar"


def _history(folder: Path) -> Repository:
    """main: baseline -> epoch 2 -> merge of low-lr; low-lr: one commit, tagged."""
    repo = Repository(folder, init=True)
    rng = np.random.default_rng(0)
    w = {"encoder.weight": rng.standard_normal((16, 8)).astype(np.float32)}
    repo.stage_weights({**w, "head.bias": np.zeros(4, np.float32)})
    repo.commit("baseline")
    repo.create_branch("low-lr")
    repo.stage_weights({"head.bias": np.ones(4, np.float32)}, partial=True)
    repo.commit("main epoch 2")
    repo.checkout("low-lr")
    repo.stage_weights({"encoder.weight": w["encoder.weight"] * 0.5}, partial=True)
    repo.commit("low-lr epoch 2")
    repo.tag_version("v-low", "low learning rate", {"loss": 0.8, "accuracy": 0.91})
    repo.checkout("main")
    repo.merge("low-lr", strategy="average")
    return repo


def _open_sidebar(page: Any) -> Any:
    page.locator('.jp-SideBar [data-id="coral-sidebar"]').click()
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for(state="visible", timeout=30_000)
    return sidebar


def _wait_text(page: Any, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.innerText.includes(text)",
        arg=[SIDEBAR, text],
        timeout=timeout,
    )


def test_sidebar_shows_switches_and_opens_the_dag_in_the_notebook(
    lab: tuple[str, Path], browser: Any, tmp_path: Path
) -> None:
    url, root = lab
    folder = root / "project"
    repo = _history(folder)
    write_notebook(folder / "train.ipynb", ["x = 1"])
    page = open_notebook(browser, url, "project/train.ipynb")
    try:
        sidebar = _open_sidebar(page)
        _wait_text(page, "On branch main")
        assert sidebar.locator(".coral-branch").all_inner_texts()[0].startswith("low-lr")
        commits = sidebar.locator(".coral-commit")
        assert commits.count() == 4
        first = commits.first.inner_text()
        assert "HEAD" in first and "main" in first and "Merge" in first
        assert sidebar.locator(".coral-commit .coral-lanes").count() == 4
        assert "v-low" in sidebar.locator(".coral-tags").inner_text()
        assert "accuracy=0.91" in sidebar.locator(".coral-tags").inner_text()

        # Keyboard: focus the newest commit, arrow down to the next one: its details show.
        commits.first.focus()
        page.keyboard.press("ArrowDown")
        page.wait_for_selector(f"{SIDEBAR} .coral-details", timeout=30_000)
        second = api.commits(repo, 0, 4)["commits"][1]  # the order the sidebar draws
        _wait_text(page, second["hash"])
        assert second["message"] in sidebar.locator(".coral-details").inner_text()
        assert page.evaluate("() => document.activeElement.dataset.hash") == second["hash"]

        screenshot(sidebar, "sidebar.png", tmp_path)

        # Switch branch with the button: the repository on disk follows.
        sidebar.get_by_role("button", name="Switch to branch low-lr").click()
        _wait_text(page, "On branch low-lr")
        assert Repository(folder).current_branch == "low-lr"

        # Create a branch from the selected commit: typed name, Enter.
        sidebar.get_by_role("textbox", name="New branch name").fill("from-second")
        sidebar.get_by_role("textbox", name="New branch name").press("Enter")
        _wait_text(page, "Created branch from-second")
        created = Repository(folder).branch_manager.get_branch("from-second")
        assert created is not None and created.commit_hash == second["hash"]
        assert sidebar.get_by_role("textbox", name="New branch name").input_value() == ""

        # A change made elsewhere (a kernel, a shell) shows up on the next poll.
        Repository(folder).create_branch("made-outside")
        _wait_text(page, "made-outside", timeout=15_000)

        # "Open DAG in notebook" inserts %coral dag below the active cell and runs it.
        sidebar.get_by_role("button", name="Open DAG in notebook").click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell .cm-content')]"
            ".some(e => e.innerText.trim() === '%coral dag')",
            timeout=30_000,
        )
        page.wait_for_selector(".jp-Notebook .js-plotly-plot", timeout=90_000)
        _wait_text(page, "Ran %coral dag")
    finally:
        page.close()


def test_sidebar_offers_init_where_there_is_no_repository(
    lab: tuple[str, Path], browser: Any
) -> None:
    url, root = lab
    write_notebook(root / "plain" / "scratch.ipynb", ["x = 1"])
    page = open_notebook(browser, url, "plain/scratch.ipynb")
    try:
        sidebar = _open_sidebar(page)
        _wait_text(page, "No Coral repository in /plain")
        assert not (root / "plain" / ".coral").exists()
        sidebar.get_by_role("button", name="Init a repository here").click()
        _wait_text(page, "No commits yet")
        assert Repository(root / "plain").head.commit_hash is None
    finally:
        page.close()


XSS = '<img src=x onerror="window.__coralXss = 1"><script>window.__coralXss = 2</script>'


def test_sidebar_shows_hostile_text_as_text(lab: tuple[str, Path], browser: Any) -> None:
    """#10 row 18: a commit message, a tag description and a metric name that are HTML
    are shown literally and never run."""
    url, root = lab
    repo = Repository(root / "hostile", init=True)
    repo.stage_weights({"w": np.ones(3, np.float32)})
    commit = repo.commit(XSS)
    repo.tag_version("t<b>1</b>", XSS, {"<i>acc</i>": 0.5})
    write_notebook(root / "hostile" / "nb.ipynb", ["x = 1"])
    page = open_notebook(browser, url, "hostile/nb.ipynb")
    try:
        sidebar = _open_sidebar(page)
        _wait_text(page, "window.__coralXss = 1")  # the message, as text
        sidebar.locator(".coral-commit").first.click()
        _wait_text(page, commit.commit_hash)
        text = sidebar.inner_text()
        assert "t<b>1</b>" in text and "<i>acc</i>=0.5" in text and XSS in text
        assert sidebar.locator("img, script, b, i").count() == 0
        assert page.evaluate("() => window.__coralXss") is None
    finally:
        page.close()


def test_sidebar_is_readable_in_the_dark_theme(lab: tuple[str, Path], browser: Any) -> None:
    url, root = lab
    _history(root / "dark")
    write_notebook(root / "dark" / "nb.ipynb", ["x = 1"])
    page = open_notebook(browser, url, "dark/nb.ipynb")
    try:
        page.evaluate(
            "() => window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Dark'})"
        )
        page.wait_for_function(
            "() => document.body.dataset.jpThemeLight === 'false'", timeout=30_000
        )
        _open_sidebar(page)
        _wait_text(page, "On branch main")
        for selector in (".coral-message", ".coral-branch-name", ".coral-summary-counts"):
            ratio = page.evaluate(_CONTRAST, f"{SIDEBAR} {selector}")
            assert ratio >= 4.5, f"{selector}: contrast {ratio:.1f} below WCAG AA"
    finally:
        page.evaluate(
            "() => window.jupyterapp.commands.execute("
            "'apputils:change-theme', {theme: 'JupyterLab Light'})"
        )
        page.close()


# WCAG contrast ratio between an element's text colour and the panel's background.
_CONTRAST = """
(selector) => {
  const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const element = document.querySelector(selector);
  const text = lum(rgb(getComputedStyle(element).color));
  const panel = element.closest('.coral-panel');
  const back = lum(rgb(getComputedStyle(panel).backgroundColor));
  const [hi, lo] = text > back ? [text, back] : [back, text];
  return (hi + 0.05) / (lo + 0.05);
}
"""
