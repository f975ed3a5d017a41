"""The ``coral`` command: a parser per subcommand, and git's habits for exits and messages:
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
from coral.cli.args import key_value, metric
from coral.cli.output import Output
from coral.errors import CoralError, NotARepositoryError
from coral.version_control import MergeStrategy, Repository

USAGE_ERROR = 129
FATAL = 128

Handler = Callable[[Any, argparse.Namespace, Output], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"error: {message}\n")


def _build() -> tuple[argparse.ArgumentParser, dict[str, tuple[Handler, bool]]]:
    parser = _Parser(prog="coral", description="Git for neural-network weights.")
    parser.add_argument("--version", action="version", version=f"coral {__version__}")
    parser.add_argument("-C", dest="directory", default=".", help="run as if started in DIR")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    handlers: dict[str, tuple[Handler, bool]] = {}

    def command(name: str, handler: Handler, text: str, needs_repo: bool = True) -> Any:
        handlers[name] = (handler, needs_repo)
        return sub.add_parser(name, help=text, description=text)

    p = command("demo", commands.demo, "Build an example repository to explore.", needs_repo=False)
    p.add_argument("path", nargs="?")
    p = command("init", commands.init, "Create an empty repository.", needs_repo=False)
    p.add_argument("path", nargs="?")
    command("status", commands.status, "Branch, HEAD and what the next commit would change.")
    p = command(
        "add", commands.add, "Stage weight files (.safetensors, .npz, PyTorch) or model folders."
    )
    p.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER")
    p.add_argument("--prefix", default="", help="prepend this to every tensor name")
    p.add_argument("--key", default=None, help="the entry of a nested checkpoint to take")
    p = command("commit", commands.commit, "Record the staged weights.")
    p.add_argument("-m", "--message", required=True)
    p.add_argument("--author", default=None)
    p.add_argument("--metric", type=metric, action="append", default=[], metavar="K=V")
    p.add_argument("--allow-empty", action="store_true")
    p = command("log", commands.log, "Show history.")
    p.add_argument("ref", nargs="?", default=None)
    p.add_argument("-n", "--max-count", type=int, default=None)
    p.add_argument("--oneline", action="store_true")
    p.add_argument("--graph", action="store_true")
    p.add_argument("--all", action="store_true", help="every branch and tag")
    p = command("show", commands.show, "One commit: message, refs, changes, merge details.")
    p.add_argument("ref", nargs="?", default="HEAD")
    p = command("diff", commands.diff, "Weights added, removed, modified between two refs.")
    p.add_argument("a", nargs="?")
    p.add_argument("b", nargs="?")
    p.add_argument("--stats", action="store_true")
    p = command("branch", commands.branch, "List, create or delete branches.")
    p.add_argument("name", nargs="?")
    p.add_argument("start", nargs="?", help="where the new branch starts (default HEAD)")
    p.add_argument("-d", "--delete", metavar="NAME")
    p.add_argument("-D", "--force-delete", metavar="NAME")
    p = command("checkout", commands.checkout, "Switch to a branch or commit.")
    p.add_argument("ref", nargs="?")
    p.add_argument("-b", dest="create", metavar="NEW", help="create branch NEW and switch")
    p.add_argument("-f", "--force", action="store_true", help="drop staged weights")
    p = command("merge", commands.merge, "Merge a branch into HEAD.")
    p.add_argument("branch")
    p.add_argument("--strategy", "-s", default="ours", choices=[s.value for s in MergeStrategy])
    p.add_argument("--alpha", type=float, default=None)
    p.add_argument("--param", type=key_value, action="append", default=[], metavar="K=V")
    p.add_argument("--override", type=key_value, action="append", default=[], metavar="GLOB=S")
    p.add_argument("--non-float", default="ours", choices=["ours", "theirs", "fail"])
    p.add_argument("-m", "--message", default=None)
    p.add_argument("--dry-run", action="store_true")
    p = command("tag", commands.tag, "Tag a commit with a description and metrics.")
    p.add_argument("name")
    p.add_argument("ref", nargs="?", default=None)
    p.add_argument("-m", "--description", default=None)
    p.add_argument("--metric", type=metric, action="append", default=[], metavar="K=V")
    p.add_argument("-d", "--delete", action="store_true")
    command("versions", commands.versions, "Tags with their metrics.")
    p = command(
        "export", commands.export, "Write a commit as .safetensors, .npz or a model folder."
    )
    p.add_argument("ref", nargs="?", default="HEAD")
    p.add_argument("-o", "--output", required=True)
    p = command("remote", remotes.remote, "List, add or remove remotes.")
    p.add_argument("action", nargs="?", choices=["add", "remove"])
    p.add_argument("name", nargs="?")
    p.add_argument("url", nargs="?")
    p.add_argument("-v", "--verbose", action="store_true")
    p = command("push", remotes.push, "Send branches, tags and their weights to a remote.")
    p.add_argument("remote", nargs="?", default="origin")
    p.add_argument("branch", nargs="?", default=None)
    p.add_argument("-f", "--force", action="store_true")
    p = command("pull", remotes.pull, "Fetch a remote and fast-forward local branches.")
    p.add_argument("remote", nargs="?", default="origin")
    p.add_argument("-f", "--force", action="store_true")
    p = command("clone", remotes.clone, "Copy a remote repository.", needs_repo=False)
    p.add_argument("url")
    p.add_argument("path", nargs="?")
    p.add_argument("-o", "--origin", default="origin")
    p = command("blame", commands.blame, "The commit that last changed each tensor.")
    p.add_argument("ref", nargs="?", default="HEAD")
    p.add_argument("--no-stats", action="store_true", help="skip the size of each change")
    p = command(
        "bisect", commands.bisect, "Find the first bad commit: coral bisect GOOD BAD -- CMD ..."
    )
    p.add_argument("good")
    p.add_argument("bad")
    p.add_argument("run", nargs=argparse.REMAINDER, help="-- then the test command")
    p = command("reflog", commands.reflog, "Where a branch has pointed, newest first.")
    p.add_argument("branch", nargs="?", default=None)
    p = command("reset", commands.reset, "Unstage everything, or move the branch to REF.")
    p.add_argument("ref", nargs="?", default=None, help="e.g. HEAD~1 or main@{1}")
    command("stats", commands.stats, "Storage saved by dedup, compression and deltas.")
    p = command("fsck", commands.fsck, "Verify every object, commit, ref and tag.")
    p.add_argument("--quick", action="store_true", help="skip re-hashing the objects")
    p = command("gc", commands.gc, "Delete what nothing needs; merge small packs.")
    p.add_argument("--dry-run", "-n", action="store_true", help="report only; change nothing")
    p.add_argument(
        "--prune",
        default=None,
        metavar="WHEN",
        help="grace period for unreferenced data: now, never, 2.weeks.ago, 3d (default "
        "gc.prune_expire, 2 weeks)",
    )
    p.add_argument(
        "--reflog-expire",
        default=None,
        metavar="WHEN",
        help="drop older reflog entries that name commits no ref reaches (default "
        "gc.reflog_expire_unreachable, 30 days)",
    )
    return parser, handlers


def main(argv: Sequence[str] | None = None, out: Output | None = None) -> int:
    parser, handlers = _build()
    args = parser.parse_args(argv)
    out = out or Output()
    if args.command is None:
        parser.print_help(out.out)
        return USAGE_ERROR
    handler, needs_repo = handlers[args.command]
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
