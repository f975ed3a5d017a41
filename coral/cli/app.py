"""The ``coral`` command: a parser per subcommand (built from the table in
:mod:`coral.cli.spec`, which the ``%coral`` magics share), and git's habits for exits and messages:
0 on success, 1 for a failed operation ("error: ..."), 128 for no repository ("fatal: ..."),
129 for bad usage; ``--help`` everywhere."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from coral import __version__
from coral.cli import commands, remotes
from coral.cli.output import Output
from coral.cli.spec import COMMANDS, Frontend, commands_for
from coral.errors import CoralError, NotARepositoryError
from coral.version_control import Repository

USAGE_ERROR = 129
FATAL = 128

Handler = Callable[[Any, argparse.Namespace, Output], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"error: {message}\n")


# Subcommand -> (its handler, whether it runs inside a repository); the arguments are in
# coral.cli.spec, shared with the %coral magics.
HANDLERS: dict[str, tuple[Handler, bool]] = {
    "demo": (commands.demo, False),
    "init": (commands.init, False),
    "status": (commands.status, True),
    "add": (commands.add, True),
    "commit": (commands.commit, True),
    "log": (commands.log, True),
    "show": (commands.show, True),
    "diff": (commands.diff, True),
    "branch": (commands.branch, True),
    "checkout": (commands.checkout, True),
    "merge": (commands.merge, True),
    "tag": (commands.tag, True),
    "versions": (commands.versions, True),
    "export": (commands.export, True),
    "remote": (remotes.remote, True),
    "push": (remotes.push, True),
    "pull": (remotes.pull, True),
    "clone": (remotes.clone, False),
    "blame": (commands.blame, True),
    "bisect": (commands.bisect, True),
    "reflog": (commands.reflog, True),
    "reset": (commands.reset, True),
    "stats": (commands.stats, True),
    "fsck": (commands.fsck, True),
    "gc": (commands.gc, True),
    "runs": (commands.runs, True),
    "run": (commands.run, True),
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``coral`` parser, and each subcommand's parser by name."""
    parser = _Parser(prog="coral", description="Git for neural-network weights.")
    parser.add_argument("--version", action="version", version=f"coral {__version__}")
    parser.add_argument("-C", dest="directory", default=".", help="run as if started in DIR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parsers: dict[str, argparse.ArgumentParser] = {}
    for command in commands_for(Frontend.CLI):
        text = command.description(Frontend.CLI)
        parsers[command.name] = sub.add_parser(command.name, help=text, description=text)
        command.add_arguments(parsers[command.name], Frontend.CLI)
    return parser, parsers


def main(argv: Sequence[str] | None = None, out: Output | None = None) -> int:
    parser, parsers = build_parser()
    args, extras = parser.parse_known_args(argv)
    out = out or Output()
    if args.command is None:
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        parser.print_help(out.out)
        return USAGE_ERROR
    problem = COMMANDS[args.command].problem(args, extras)
    if problem:
        parsers[args.command].error(problem)
    handler, needs_repo = HANDLERS[args.command]
    start = Path(args.directory)
    try:
        if not needs_repo:
            return handler(start, args, out)
        with Repository(start) as repo:
            return handler(repo, args, out)
    except NotARepositoryError:
        out.error(
            f"fatal: not a coral repository (or any of the parent directories): "
            f"{start.resolve()}; create one with 'coral init'"
        )
        return FATAL
    except CoralError as err:
        out.error(f"error: {err}")
        return 1
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
