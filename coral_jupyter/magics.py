"""``%coral`` (line) and ``%%coral`` (cell) magics.

The magics only parse, call :mod:`coral_jupyter.commands` and display; every Coral error
becomes one plain ``UsageError`` line (IPython prints tracebacks for its subclasses,
ipython#14024), so a typo never scrolls a stack trace past the user.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from coral.errors import CoralError
from coral_jupyter import commands
from coral_jupyter.namespace import is_stageable
from coral_jupyter.parser import parse, split, usage
from coral_jupyter.session import Session

_CELL_USAGE = """\
%%coral commit -m MSG [NAME...]
    runs the cell, then commits the objects it names, or else the weights the cell
    assigned (torch modules, state dicts, dicts of arrays, arrays)."""


def _documented(magic: Callable[..., Any]) -> Callable[..., Any]:
    """Document ``magic`` (``%coral?``) with every subcommand's usage, from the same table
    the parsers are built from, so the documentation cannot fall behind them."""
    magic.__doc__ = (
        'Git for weights in notebook cells: ``%coral commit -m "lr=3e-4" model``.\n\n'
        f"{usage()}\n\n{_CELL_USAGE}\n\n"
        "``%coral help SUBCOMMAND`` (or ``%coral SUBCOMMAND -h``) shows every argument.\n"
    )
    return magic


@magics_class
class CoralMagics(Magics):
    """The ``%coral`` magics, bound to one :class:`~coral_jupyter.session.Session`."""

    def __init__(self, shell: Any, session: Session) -> None:
        super().__init__(shell)
        self.session = session

    @property
    def _shell(self) -> Any:
        assert self.shell is not None, "magics are registered with a shell"
        return self.shell

    @line_cell_magic
    @_documented  # the docstring, %coral?, is every subcommand's usage
    def coral(self, line: str, cell: str | None = None) -> Any:
        try:
            if cell is None:
                return commands.execute(self.session, line, self._shell.user_ns)
            return self._cell(line, cell)
        except CoralError as err:
            raise UsageError(str(err)) from None

    def _cell(self, line: str, cell: str) -> Any:
        command, args = parse(split(line))
        if command != "commit" or args is None:
            raise UsageError(
                "%%coral runs a cell and commits its weights: %%coral commit -m MSG [NAME...]"
            )
        # Run in the user namespace; an exception shows its traceback and commits nothing.
        self._shell.ex(self._shell.transform_cell(cell))
        if not args.names:
            args.names = _assigned_weights(cell, self._shell.user_ns)
            if not args.names:
                raise UsageError(
                    "the cell assigned no weights; name them: %%coral commit -m MSG model"
                )
        return commands.HANDLERS["commit"](self.session, args, self._shell.user_ns)


def _assigned_weights(cell: str, user_ns: dict[str, Any]) -> list[str]:
    """Top-level names the cell assigns that now hold weights, in order of assignment."""
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, ast.AnnAssign | ast.AugAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Name) and sub.id not in names:
                    names.append(sub.id)
    return [n for n in names if is_stageable(user_ns.get(n))]
