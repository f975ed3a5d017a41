"""The ``%coral`` command line: one argparse parser per subcommand, built from the table the
``coral`` command uses too (:mod:`coral.cli.spec`), so a flag means the same in both.

Parsing errors become IPython ``UsageError`` lines, never ``SystemExit``; ``-h``/``--help``
and ``%coral help SUBCOMMAND`` print usage instead of exiting.
"""

from __future__ import annotations

import argparse
import shlex
import textwrap
from typing import Any, NoReturn

from IPython.core.error import UsageError

from coral.cli.spec import COMMANDS, Frontend, commands_for

# Usage is shown in notebooks, whose width has nothing to do with the kernel's terminal.
WIDTH = 88


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.HelpFormatter(prog, width=WIDTH)


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that reports problems as one-line ``UsageError``s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", False)
        kwargs.setdefault("formatter_class", _formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see %coral help {self.prog.split()[-1]})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: invalid arguments")


def build() -> dict[str, MagicArgumentParser]:
    """Subcommand name -> its parser (each ``prog`` is ``%coral NAME``)."""
    parsers: dict[str, MagicArgumentParser] = {}
    for command in commands_for(Frontend.MAGIC):
        parser = MagicArgumentParser(
            prog=f"{Frontend.MAGIC.value} {command.name}",
            description=command.description(Frontend.MAGIC),
        )
        command.add_arguments(parser, Frontend.MAGIC)
        parsers[command.name] = parser
    return parsers


PARSERS = build()


def synopsis(name: str) -> str:
    """``%coral NAME [ARGS]``, as argparse writes the subcommand's usage (wrapped lines kept
    aligned)."""
    text = PARSERS[name].format_usage().removeprefix("usage: ").rstrip()
    prefix = len("usage: ")
    first, *rest = text.splitlines()
    return "\n".join([first, *(line[prefix:] for line in rest)])


def usage() -> str:
    """Every subcommand's synopsis and description: ``%coral help`` and the magic's doc."""
    lines = ["%coral SUBCOMMAND [ARGS]   (%coral help SUBCOMMAND for details)", ""]
    for name, parser in PARSERS.items():
        lines += ["  " + line for line in synopsis(name).splitlines()]
        lines.append(
            textwrap.fill(
                parser.description or "", WIDTH, initial_indent=" " * 6, subsequent_indent=" " * 6
            )
        )
    return "\n".join(lines)


def split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as err:
        raise UsageError(f"%coral: cannot parse the line: {err}") from None


def parse(tokens: list[str]) -> tuple[str, argparse.Namespace | None]:
    """(subcommand, arguments); arguments are None when help was asked for."""
    if not tokens:
        return "help", None
    command, rest = tokens[0], tokens[1:]
    if command not in PARSERS:
        raise UsageError(f"%coral: unknown subcommand {command!r}; try %coral help")
    if "-h" in rest or "--help" in rest:
        return command, None
    parser = PARSERS[command]
    args, extras = parser.parse_known_args(rest)
    problem = COMMANDS[command].problem(args, extras)
    if problem:
        parser.error(problem)
    return command, args
