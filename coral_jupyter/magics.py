"""``%coral`` (line) and ``%%coral`` (cell) magics.

The magics only parse, call :mod:`coral_jupyter.commands` and display; every Coral error
becomes one plain ``UsageError`` line (IPython prints tracebacks for its subclasses,
ipython#14024), so a typo never scrolls a stack trace past the user.
"""

from __future__ import annotations

import ast
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from coral.errors import CoralError
from coral_jupyter import commands
from coral_jupyter.namespace import is_stageable
from coral_jupyter.parser import parse, split
from coral_jupyter.session import Session


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
    def coral(self, line: str, cell: str | None = None) -> Any:
        """Git for weights in notebook cells: ``%coral commit -m "lr=3e-4" model``.

        %coral init [PATH] | open [PATH] | status | add NAME... |
               commit -m MSG [NAME...] [--tag T] | log [-n N] [--branch B] [--graph] |
               branch [NAME] [--from REF] [-d NAME] [-D NAME] |
               checkout REF [--into NAME] [-f] |
               merge BRANCH [--strategy S] [--alpha A] [--param K=V] [--dry-run] ... |
               tag NAME [-d DESC] [--metric K=V] [--ref REF] [--delete] |
               diff [A] [B] [--stats] | show [REF] | get WEIGHT [REF] | versions |
               remote [add NAME URL | remove NAME] | push [REMOTE] [--branch B] [-f] |
               pull [REMOTE] [-f] | sync [REMOTE] | clone URL PATH |
               bisect GOOD BAD (--test F | --metric F --threshold X) | blame [REF] |
               fsck [--quick] | gc [-n] [--prune WHEN] | help [SUBCOMMAND]

        %%coral commit -m MSG [NAME...]
            runs the cell, then commits the objects it names, or else the weights the cell
            assigned (torch modules, state dicts, dicts of arrays, arrays).

        ``%coral help SUBCOMMAND`` (or ``%coral SUBCOMMAND -h``) shows every argument.
        """
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
