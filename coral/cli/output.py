"""Printing for the ``coral`` command: results to stdout, problems to stderr, colours only on
a terminal (and never with ``NO_COLOR`` set), as git does."""

from __future__ import annotations

import os
import sys
from typing import TextIO

_CODES = {"yellow": "33", "green": "32", "red": "31", "cyan": "36", "bold": "1", "dim": "2"}


class Output:
    """Where a CLI command writes: stdout and stderr, coloured only on a terminal without
    ``NO_COLOR``."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.color = self.out.isatty() and not os.environ.get("NO_COLOR")

    def paint(self, text: str, color: str) -> str:
        return f"\x1b[{_CODES[color]}m{text}\x1b[0m" if self.color else text

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def error(self, text: str) -> None:
        print(text, file=self.err)
