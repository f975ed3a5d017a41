"""The ``%coral`` command line: one argparse parser per subcommand.

Parsing errors become IPython ``UsageError`` lines, never ``SystemExit``; ``-h``/``--help``
and ``%coral help SUBCOMMAND`` print usage instead of exiting.
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError

from coral.cli.args import key_value, metric
from coral.version_control import MergeStrategy


class MagicArgumentParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that reports problems as one-line ``UsageError``s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see %coral help {self.prog.split()[-1]})")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"{self.prog}: invalid arguments")


def build() -> dict[str, MagicArgumentParser]:
    """Subcommand name -> its parser (each ``prog`` is ``%coral NAME``)."""
    parsers: dict[str, MagicArgumentParser] = {}

    def sub(name: str, description: str) -> MagicArgumentParser:
        parsers[name] = MagicArgumentParser(prog=f"%coral {name}", description=description)
        return parsers[name]

    p = sub("init", "Create a repository (default: the working directory) and make it current.")
    p.add_argument("path", nargs="?")
    p = sub("open", "Make the repository at or above PATH current.")
    p.add_argument("path", nargs="?")
    sub("status", "Branch, HEAD and what the next commit would change.")
    p = sub("add", "Stage the weights of notebook objects (modules, state dicts, arrays).")
    p.add_argument("names", nargs="+", metavar="NAME")
    p = sub("commit", "Commit the staged weights; with NAMEs, stage those objects first.")
    p.add_argument("-m", "--message", required=True)
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--tag", action="append", default=[], help="a label kept in the commit")
    p.add_argument("--metric", type=metric, action="append", default=[], metavar="K=V")
    p.add_argument("--allow-empty", action="store_true")
    p = sub("log", "History, newest first, with its commit graph.")
    p.add_argument("-n", "--max-count", type=int, default=None)
    p.add_argument("--branch", default=None)
    p.add_argument("--graph", action="store_true", help="every branch and tag, not just one")
    p = sub("branch", "List branches, create NAME (at --from), or delete with -d/-D.")
    p.add_argument("name", nargs="?")
    p.add_argument("--from", dest="from_ref", default=None)
    p.add_argument("-d", "--delete", metavar="NAME", default=None)
    p.add_argument("-D", "--force-delete", metavar="NAME", default=None)
    p = sub("checkout", "Switch to a branch or ref; --into loads its weights into an object.")
    p.add_argument("ref")
    p.add_argument("--into", default=None, metavar="NAME")
    p.add_argument("-f", "--force", action="store_true", help="drop staged weights")
    p = sub("merge", "Merge a branch into HEAD.")
    p.add_argument("branch")
    p.add_argument(
        "--strategy", default="ours", choices=[s.value for s in MergeStrategy], metavar="S"
    )
    p.add_argument("--alpha", type=float, default=None, help="merge_alpha for weighted")
    p.add_argument("--param", type=key_value, action="append", default=[], metavar="K=V")
    p.add_argument("--override", type=key_value, action="append", default=[], metavar="GLOB=S")
    p.add_argument("--non-float", default="ours", choices=["ours", "theirs", "fail"])
    p.add_argument("-m", "--message", default=None)
    p.add_argument("--dry-run", action="store_true")
    p = sub("tag", "Tag a commit (default HEAD) with a description and metrics.")
    p.add_argument("name")
    p.add_argument("-d", "--description", default=None)
    p.add_argument("--metric", type=metric, action="append", default=[], metavar="K=V")
    p.add_argument("--ref", default=None)
    p.add_argument("--delete", action="store_true", help="delete the tag instead")
    p = sub("diff", "Weights added, removed, modified: A..B (default: HEAD's parent..HEAD).")
    p.add_argument("a", nargs="?")
    p.add_argument("b", nargs="?")
    p.add_argument("--stats", action="store_true", help="change statistics per weight")
    p = sub("show", "One commit: message, refs, changes, and how a merge was made.")
    p.add_argument("ref", nargs="?", default="HEAD")
    p = sub("get", "One weight of a commit (default HEAD), bit-exact.")
    p.add_argument("weight")
    p.add_argument("ref", nargs="?", default=None)
    sub("versions", "Tags with their metrics.")
    p = sub("dag", "The interactive commit-DAG explorer.")
    p.add_argument("--branch", default=None, help="only this branch's history")
    p = sub("diffview", "The side-by-side weight diff viewer for A..B (default HEAD~1..HEAD).")
    p.add_argument("a", nargs="?")
    p.add_argument("b", nargs="?")
    p.add_argument("--tensor", default=None, help="open this tensor first")
    sub("metrics", "Metrics of tags and commits across versions (linked to the last dag).")
    p = sub("remote", "List remotes; add NAME URL; remove NAME.")
    p.add_argument("action", nargs="?", choices=["add", "remove"])
    p.add_argument("name", nargs="?")
    p.add_argument("url", nargs="?")
    p = sub("push", "Upload branches, tags and the weights they need to a remote.")
    p.add_argument("remote", nargs="?", default="origin")
    p.add_argument("--branch", default=None, help="only this branch (and its tags)")
    p.add_argument("-f", "--force", action="store_true", help="even if commits are dropped")
    p = sub("pull", "Fetch a remote's history and fast-forward local branches.")
    p.add_argument("remote", nargs="?", default="origin")
    p.add_argument("-f", "--force", action="store_true", help="reset diverged branches")
    p = sub("sync", "Pull, then push.")
    p.add_argument("remote", nargs="?", default="origin")
    p = sub("clone", "Copy a remote repository into PATH and make it current.")
    p.add_argument("url")
    p.add_argument("path")
    p = sub("bisect", "The first bad commit between GOOD and BAD, by a test or a metric.")
    p.add_argument("good")
    p.add_argument("bad")
    p.add_argument("--test", default=None, metavar="FUNC", help="f(weights) -> True if good")
    p.add_argument("--metric", default=None, metavar="FUNC", help="f(weights) -> number")
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--bad-if", default="above", choices=["above", "below"])
    p = sub("blame", "The commit that last changed each tensor, and by how much.")
    p.add_argument("ref", nargs="?", default="HEAD")
    p = sub("fsck", "Verify every object, commit, ref and tag.")
    p.add_argument("--quick", action="store_true", help="skip re-hashing the objects")
    p = sub("gc", "Delete what nothing needs; merge small packs.")
    p.add_argument("-n", "--dry-run", action="store_true", help="report only; change nothing")
    p.add_argument("--prune", default=None, metavar="WHEN", help="grace period: now, 2.weeks.ago")
    p.add_argument("--reflog-expire", default=None, metavar="WHEN")
    p = sub("help", "Usage of a subcommand.")
    p.add_argument("command", nargs="?")
    return parsers


PARSERS = build()


def usage() -> str:
    width = max(len(n) for n in PARSERS)
    lines = ["%coral SUBCOMMAND [ARGS]   (%coral help SUBCOMMAND for details)", ""]
    lines += [f"  {n:<{width}}  {p.description}" for n, p in PARSERS.items()]
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
    return command, PARSERS[command].parse_args(rest)
