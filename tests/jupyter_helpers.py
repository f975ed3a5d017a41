"""A real IPython shell with the Coral magics, and an HTML checker, for the notebook tests."""

from __future__ import annotations

import warnings
from html.parser import HTMLParser
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from coral_jupyter.completion import complete_hook
from coral_jupyter.display.formatters import register
from coral_jupyter.magics import CoralMagics
from coral_jupyter.session import Session

_VOID = {"br", "hr", "img", "input", "meta", "link", "wbr", "col"}


class Shell:
    """IPython's shell with a fresh Coral session: ``run`` returns a cell's value and raises
    its error; ``usage_error`` returns the one-line message of a failing magic."""

    def __init__(self) -> None:
        self.ip = InteractiveShell.instance()
        self.ip.reset()
        self.session = Session()
        self.ip.register_magics(CoralMagics(self.ip, self.session))
        # The shell is a singleton: drop the completion hooks of earlier tests' sessions.
        self.ip.strdispatchers["complete_command"].strs.pop("%coral", None)
        self.ip.set_hook("complete_command", complete_hook(self.session), str_key="%coral")
        register(self.ip)

    @property
    def ns(self) -> dict[str, Any]:
        return self.ip.user_ns

    def run(self, source: str) -> Any:
        result = self.ip.run_cell(source, silent=False)
        result.raise_error()
        return result.result

    def usage_error(self, source: str) -> str:
        result = self.ip.run_cell(source)
        error = result.error_in_exec or result.error_before_exec
        assert type(error) is UsageError, f"expected a plain UsageError, got {error!r}"
        message = str(error)
        assert "\n" not in message, message
        return message

    def complete(self, line: str) -> list[str]:
        symbol = "" if line.endswith(" ") else line.split()[-1]
        with warnings.catch_warnings():  # the stable API; its successor is provisional
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return list(self.ip.complete(symbol, line, len(line))[1])

    def html(self, obj: Any) -> str:
        data, _ = self.ip.display_formatter.format(obj)
        assert "text/plain" in data
        markup = str(data["text/html"])
        check_html(markup)
        return markup


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        assert tag not in {"script", "iframe", "object"}, f"<{tag}> in a static display"
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: Any) -> None:
        assert tag not in {"script", "iframe", "object"}

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def check_html(markup: str) -> None:
    """Well-formed (every tag closed in order) and free of scripts."""
    checker = _Checker()
    checker.feed(markup)
    checker.close()
    assert not checker.stack, f"unclosed tags: {checker.stack}"
