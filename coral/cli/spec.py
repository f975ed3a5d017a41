"""Every subcommand and its arguments, once, for both front ends: the ``coral`` command
(:mod:`coral.cli.app`) and the ``%coral`` magics (``coral_jupyter.parser``) build their
argparse parsers from this table, so a flag means the same in a terminal and in a notebook.

The spellings are git's (``tag -d`` deletes, ``-m`` describes; ``branch NAME START``;
``push REMOTE BRANCH``). A subcommand or an argument that only one front end has says so
(``only=CLI``: files on disk, a test command; ``only=MAGIC``: notebook objects, widgets), with
the reason in its help or in the subcommand's per-front-end note. Flags the magics spelled
differently before are kept as :func:`retired` entries: using one is a usage error that says
what to write instead, never a silent change of meaning.

This module imports no IPython: the ``coral`` package never does.
"""

from __future__ import annotations

import argparse
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from coral.cli.args import key_value, metric
from coral.version_control import MergeStrategy


class Frontend(enum.Enum):
    """Who parses: the value is the prefix its usage lines start with."""

    CLI = "coral"
    MAGIC = "%coral"


CLI, MAGIC = Frontend.CLI, Frontend.MAGIC


@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: its flags (or positional name) and keyword options."""

    flags: tuple[str, ...]
    options: Mapping[str, Any]
    only: Frontend | None = None


def arg(*flags: str, only: Frontend | None = None, **options: Any) -> Arg:
    """An argument, as ``parser.add_argument(*flags, **options)`` takes it; ``only`` limits
    it to one front end."""
    return Arg(flags, options, only)


class RetiredFlag(argparse.Action):
    """A flag that is no longer taken: parsing it is a usage error naming the replacement."""

    def __init__(self, option_strings: Sequence[str], dest: str, hint: str) -> None:
        # SUPPRESS: hidden from help and usage, and sets nothing, so it never shadows the
        # argument that replaced it (--ref and REF share the dest "ref").
        super().__init__(
            option_strings,
            dest,
            nargs="?",
            default=argparse.SUPPRESS,
            help=argparse.SUPPRESS,
        )
        self.hint = hint

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        parser.error(f"{option_string} was retired; {self.hint}")


def retired(flag: str, hint: str) -> Arg:
    """A flag the ``%coral`` magics once took with another spelling or meaning; ``hint``
    says what to write now."""
    return Arg((flag,), {"action": RetiredFlag, "hint": hint}, only=MAGIC)


@dataclass(frozen=True)
class Command:
    """A subcommand: its help, its arguments, and where it exists.

    Attributes:
        help: one line, shown in both front ends' lists of subcommands.
        args: in ``add_argument`` order (positionals in the order they are given).
        only: the one front end that has it, or None for both.
        notes: a sentence added to ``help`` for one front end (what differs there and why).
        check: what argparse cannot say (``tag -d`` takes no REF), given the parsed
            arguments and those left over: a problem, or None.
    """

    name: str
    help: str
    args: tuple[Arg, ...] = ()
    only: Frontend | None = None
    notes: Mapping[Frontend, str] = field(default_factory=dict)
    check: Callable[[argparse.Namespace, Sequence[str]], str | None] | None = None

    def available(self, frontend: Frontend) -> bool:
        """Whether ``frontend`` has this subcommand."""
        return self.only in (None, frontend)

    def description(self, frontend: Frontend) -> str:
        """``help`` with ``frontend``'s note."""
        note = self.notes.get(frontend)
        return f"{self.help} {note}" if note else self.help

    def add_arguments(self, parser: argparse.ArgumentParser, frontend: Frontend) -> None:
        """Add this subcommand's arguments for ``frontend`` to ``parser``."""
        for a in self.args:
            if a.only in (None, frontend):
                parser.add_argument(*a.flags, **a.options)

    def problem(self, args: argparse.Namespace, extras: Sequence[str]) -> str | None:
        """What is wrong with ``args`` and the ``extras`` that ``parse_known_args`` left
        over, or None. Parsers take known arguments first so that a check can explain
        leftovers better than argparse's "unrecognized arguments" (``tag v1 -d DESC``)."""
        found = self.check(args, extras) if self.check else None
        if found is None and extras:
            return f"unrecognized arguments: {' '.join(extras)}"
        return found


def _tag_problem(args: argparse.Namespace, extras: Sequence[str]) -> str | None:
    if args.delete and (extras or args.ref or args.message is not None or args.metric):
        # Before it followed git, the magics' -d was the description: say so.
        return (
            "-d/--delete deletes the tag NAME and takes no REF, -m or --metric; "
            "a tag's description is -m/--message, as in git"
        )
    return None


def _run_problem(args: argparse.Namespace, extras: Sequence[str]) -> str | None:
    wanted = {"start": (1, 1), "show": (1, 1), "log": (1, None), "commit": (0, None), "end": (0, 0)}
    low, high = wanted[args.action]
    count = len(args.values)
    if count < low or (high is not None and count > high):
        shape = {
            "start": "run start NAME [--param K=V ...] [--from REF] [--resume]",
            "show": "run show NAME",
            "log": "run log NAME=VALUE ... [--step N]",
            "commit": "run commit [VARIABLE ...] [--step N] [-m MESSAGE]",
            "end": "run end",
        }[args.action]
        return f"usage: {shape}"
    return None


def _checkout_problem(args: argparse.Namespace, extras: Sequence[str]) -> str | None:
    if args.ref is None and getattr(args, "create", None) is None:  # -b: the command only
        return "give the branch, tag or commit to switch to"
    return None


_PATH = arg("path", nargs="?", metavar="PATH", help="default: the working directory")
_REF = arg("ref", nargs="?", default="HEAD", metavar="REF", help="default: HEAD")
_REMOTE = arg("remote", nargs="?", default="origin", metavar="REMOTE", help="default: origin")
_METRIC = arg(
    "--metric",
    type=metric,
    action="append",
    default=[],
    metavar="K=V",
    help="a number to record, e.g. --metric acc=0.91 (repeatable)",
)
_STRATEGIES = [s.value for s in MergeStrategy]

TABLE: tuple[Command, ...] = (
    Command("demo", "Build an example repository to explore.", (_PATH,), only=CLI),
    Command(
        "init",
        "Create an empty repository in PATH (default: the working directory).",
        (_PATH,),
        notes={MAGIC: "It becomes the session's repository."},
    ),
    Command(
        "open",
        "Make the repository at or above PATH the session's repository.",
        (_PATH,),
        only=MAGIC,
    ),
    Command("status", "Branch, HEAD and what the next commit would change."),
    Command(
        "add",
        "Stage weights for the next commit.",
        (
            arg("files", nargs="+", metavar="FILE_OR_FOLDER", only=CLI),
            arg("--prefix", default="", only=CLI, help="prepend this to every tensor name"),
            arg("--key", default=None, only=CLI, help="the entry of a nested checkpoint to take"),
            arg(
                "names",
                nargs="+",
                metavar="NAME",
                only=MAGIC,
                help="a notebook variable; several are prefixed NAME.",
            ),
            arg(
                "--partial",
                action="store_true",
                help="update these weights only: the commit keeps HEAD's other weights",
            ),
        ),
        notes={
            CLI: "They come from weight files (.safetensors, .npz, PyTorch) or model folders.",
            MAGIC: "They come from notebook objects: torch modules, state dicts, dicts of "
            "arrays, arrays.",
        },
    ),
    Command(
        "commit",
        "Record the staged weights.",
        (
            arg("-m", "--message", required=True, metavar="MSG"),
            arg(
                "names",
                nargs="*",
                metavar="NAME",
                only=MAGIC,
                help="notebook objects to stage first",
            ),
            # A notebook commits as the configured user (user.name, CORAL_AUTHOR_NAME).
            arg("--author", default=None, only=CLI),
            arg(
                "--tag",
                action="append",
                default=[],
                metavar="T",
                only=MAGIC,
                help="a label kept in the commit",
            ),
            _METRIC,
            arg("--allow-empty", action="store_true"),
        ),
        notes={MAGIC: "With NAMEs, stage those notebook objects first."},
    ),
    Command(
        "log",
        "History, newest first.",
        (
            arg("ref", nargs="?", default=None, metavar="REF", help="default: HEAD"),
            arg("-n", "--max-count", type=int, default=None, metavar="N"),
            # Text formats: the notebook shows a table.
            arg("--oneline", action="store_true", only=CLI),
            arg("--graph", action="store_true", only=CLI, help="draw the branch lanes"),
            arg("--all", action="store_true", help="every branch and tag"),
            retired("--branch", "give the branch as REF, as in git: %coral log BRANCH"),
            retired(
                "--graph",
                "the notebook log always draws the graph; every branch and tag is --all, as in git",
            ),
        ),
        notes={MAGIC: "A table with the commit graph drawn."},
    ),
    Command("show", "One commit: message, refs, changes, and how a merge was made.", (_REF,)),
    Command(
        "diff",
        "Weights added, removed, modified from A to B (default: HEAD's parent to HEAD).",
        (
            arg("a", nargs="?", metavar="A"),
            arg("b", nargs="?", metavar="B", help="default: HEAD"),
            arg("--stats", action="store_true", help="change statistics per weight"),
        ),
    ),
    Command(
        "branch",
        "List branches, create NAME at START (default HEAD), or delete with -d/-D.",
        (
            arg("name", nargs="?", metavar="NAME"),
            arg("start", nargs="?", metavar="START", help="where the new branch starts"),
            arg("-d", "--delete", metavar="NAME", default=None),
            arg("-D", "--force-delete", metavar="NAME", default=None, help="even if unmerged"),
            retired("--from", "give the start after the name, as in git: %coral branch NAME START"),
        ),
    ),
    Command(
        "checkout",
        "Switch to a branch, tag or commit.",
        (
            arg("ref", nargs="?", metavar="REF"),
            # In a notebook: %coral branch NEW, then checkout NEW (--into loads refs that exist).
            arg("-b", dest="create", metavar="NEW", only=CLI, help="create branch NEW and switch"),
            arg(
                "--into",
                default=None,
                metavar="NAME",
                only=MAGIC,
                help="a module or dict to load the weights into (strict), or a new name",
            ),
            arg("-f", "--force", action="store_true", help="drop staged weights"),
        ),
        notes={MAGIC: "--into loads its weights into a notebook object."},
        check=_checkout_problem,
    ),
    Command(
        "merge",
        "Merge a branch into HEAD.",
        (
            arg("branch", metavar="BRANCH"),
            arg(
                "-s",
                "--strategy",
                default="ours",
                choices=_STRATEGIES,
                metavar="S",
                help=f"one of {', '.join(_STRATEGIES)} (default: ours)",
            ),
            arg("--alpha", type=float, default=None, metavar="A", help="merge_alpha for weighted"),
            arg("--param", type=key_value, action="append", default=[], metavar="K=V"),
            arg("--override", type=key_value, action="append", default=[], metavar="GLOB=S"),
            arg("--non-float", default="ours", choices=["ours", "theirs", "fail"]),
            arg("-m", "--message", default=None, metavar="MSG"),
            arg("--dry-run", action="store_true", help="show the plan; change nothing"),
        ),
    ),
    Command(
        "tag",
        "Tag a commit (default HEAD) with a description and metrics, or delete a tag.",
        (
            arg("name", metavar="NAME"),
            arg("ref", nargs="?", default=None, metavar="REF", help="default: HEAD"),
            arg("-m", "--message", default=None, metavar="DESC", help="the tag's description"),
            # The spelling both front ends took before -m/--message: still taken, not shown.
            arg("--description", dest="message", default=argparse.SUPPRESS, help=argparse.SUPPRESS),
            _METRIC,
            arg("-d", "--delete", action="store_true", help="delete the tag NAME"),
            retired("--ref", "give the commit after the name, as in git: %coral tag NAME REF"),
        ),
        check=_tag_problem,
    ),
    Command("versions", "Tags with their metrics."),
    Command(
        "get",
        "One weight of a commit (default HEAD), bit-exact.",
        (arg("weight", metavar="WEIGHT"), arg("ref", nargs="?", default=None, metavar="REF")),
        only=MAGIC,
    ),
    Command(
        "export",
        "Write a commit as .safetensors, .npz or a model folder.",
        (_REF, arg("-o", "--output", required=True)),
        only=CLI,
    ),
    Command(
        "dag",
        "The interactive commit-DAG explorer.",
        (arg("--branch", default=None, help="only this branch's history"),),
        only=MAGIC,
    ),
    Command(
        "diffview",
        "The side-by-side weight diff viewer for A..B (default HEAD~1..HEAD).",
        (
            arg("a", nargs="?", metavar="A"),
            arg("b", nargs="?", metavar="B"),
            arg("--tensor", default=None, help="open this tensor first"),
        ),
        only=MAGIC,
    ),
    Command(
        "metrics",
        "Metrics of tags and commits across versions (linked to the last dag).",
        only=MAGIC,
    ),
    Command(
        "remote",
        "List remotes; add NAME URL; remove NAME.",
        (
            arg("action", nargs="?", choices=["add", "remove"]),
            arg("name", nargs="?", metavar="NAME"),
            arg("url", nargs="?", metavar="URL"),
            # The notebook's table always shows each remote's URL.
            arg("-v", "--verbose", action="store_true", only=CLI, help="show URLs"),
        ),
    ),
    Command(
        "push",
        "Send branches, tags and the weights they need to a remote.",
        (
            _REMOTE,
            arg("branch", nargs="?", default=None, metavar="BRANCH", help="only this branch"),
            arg("-f", "--force", action="store_true", help="even if commits are dropped"),
            retired("--branch", "give the branch after the remote, as in git: push REMOTE BRANCH"),
        ),
    ),
    Command(
        "pull",
        "Fetch a remote's history and fast-forward local branches.",
        (_REMOTE, arg("-f", "--force", action="store_true", help="reset diverged branches")),
    ),
    Command("sync", "Pull, then push.", (_REMOTE,), only=MAGIC),
    Command(
        "clone",
        "Copy a remote repository.",
        (
            arg("url", metavar="URL"),
            # The magic asks for PATH: a kernel's working directory is seldom where it belongs.
            arg("path", nargs="?", metavar="PATH", only=CLI, help="default: from the URL"),
            arg("path", metavar="PATH", only=MAGIC),
            # A notebook's clone names its remote origin.
            arg("-o", "--origin", default="origin", only=CLI, help="the remote's name"),
        ),
        notes={MAGIC: "It becomes the session's repository."},
    ),
    Command(
        "blame",
        "The commit that last changed each tensor, and by how much.",
        (
            _REF,
            # The notebook's report always has the sizes.
            arg("--no-stats", action="store_true", only=CLI, help="skip the size of each change"),
        ),
    ),
    Command(
        "bisect",
        "The first bad commit between GOOD and BAD.",
        (
            arg("good", metavar="GOOD"),
            arg("bad", metavar="BAD"),
            arg("run", nargs=argparse.REMAINDER, only=CLI, help="-- then the test command"),
            arg("--test", default=None, metavar="FUNC", only=MAGIC, help="f(weights) -> good?"),
            arg("--metric", default=None, metavar="FUNC", only=MAGIC, help="f(weights) -> number"),
            arg("--threshold", type=float, default=None, only=MAGIC),
            arg("--bad-if", default="above", choices=["above", "below"], only=MAGIC),
        ),
        notes={
            CLI: "Judged by a command: coral bisect GOOD BAD -- CMD ... (exit 0 good, 125 skip).",
            MAGIC: "Judged by a notebook function: --test F, or --metric F --threshold X.",
        },
    ),
    Command(
        "reflog",
        "Where HEAD (or a branch) has pointed, newest first.",
        (arg("branch", nargs="?", default=None, metavar="REF", help="HEAD (default) or a branch"),),
        only=CLI,
    ),
    Command(
        "reset",
        "Unstage everything, or move the branch to REF.",
        (arg("ref", nargs="?", default=None, help="e.g. HEAD~1 or main@{1}"),),
        only=CLI,
    ),
    Command("stats", "Storage saved by dedup, compression and deltas.", only=CLI),
    Command(
        "fsck",
        "Verify every object, commit, ref and tag.",
        (arg("--quick", action="store_true", help="skip re-hashing the objects"),),
    ),
    Command(
        "gc",
        "Delete what nothing needs; merge small packs.",
        (
            arg("-n", "--dry-run", action="store_true", help="report only; change nothing"),
            arg(
                "--prune",
                default=None,
                metavar="WHEN",
                help="grace period for unreferenced data: now, never, 2.weeks.ago, 3d "
                "(default gc.prune_expire, 2 weeks)",
            ),
            arg(
                "--reflog-expire",
                default=None,
                metavar="WHEN",
                help="drop older reflog entries that name commits no ref reaches (default "
                "gc.reflog_expire_unreachable, 30 days)",
            ),
        ),
    ),
    Command(
        "compare",
        "Two runs side by side: params, curves, merge base, weight diff, merge preview.",
        (
            arg("a", metavar="RUN_A"),
            arg("b", metavar="RUN_B"),
            arg("--strategy", default="average", choices=_STRATEGIES, help="for the preview"),
        ),
        only=MAGIC,
    ),
    Command(
        "runs",
        "Every run: its params, latest and best metrics, commits.",
        (
            arg("--sort", default=None, metavar="COLUMN", help="a metric, best.M, a param..."),
            arg("--desc", action="store_true", help="largest first"),
            arg("--filter", default=None, metavar="EXPR", help='e.g. "lr < 1e-3 and loss < 1"'),
        ),
        notes={MAGIC: "A table to sort, filter and select runs in."},
    ),
    Command(
        "run",
        "Show a run; in a notebook also start, log to, commit and end the session's run.",
        (
            arg("action", choices=["start", "log", "commit", "end", "show"], only=MAGIC),
            # A run is held by the process that logs to it: a one-shot command only reads.
            arg("action", choices=["show"], only=CLI),
            arg(
                "values",
                nargs="*",
                metavar="ARG",
                help="start/show: NAME; log: NAME=VALUE ...; commit: notebook variables "
                "(default: the notebook's one model)",
            ),
            arg(
                "--param",
                type=key_value,
                action="append",
                default=[],
                metavar="K=V",
                only=MAGIC,
                help="a hyperparameter of the run being started (repeatable)",
            ),
            arg("--from", dest="from_ref", default=None, metavar="REF", only=MAGIC),
            arg("--resume", action="store_true", only=MAGIC, help="continue an existing run"),
            arg("--step", type=int, default=None, only=MAGIC, help="default: the next step"),
            arg("-m", "--message", default=None, only=MAGIC),
        ),
        check=_run_problem,
    ),
    Command(
        "help",
        "Usage of a subcommand.",
        (arg("command", nargs="?", metavar="SUBCOMMAND"),),
        only=MAGIC,
    ),
)

COMMANDS: dict[str, Command] = {c.name: c for c in TABLE}


def commands_for(frontend: Frontend) -> Iterator[Command]:
    """The subcommands ``frontend`` has, in table order."""
    return (c for c in TABLE if c.available(frontend))
