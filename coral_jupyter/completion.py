"""Tab completion for ``%coral``: subcommands, refs (branches, tags), weight names, strategies,
runs and notebook variables that hold weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coral.errors import CoralError
from coral.version_control import MergeStrategy
from coral_jupyter.namespace import is_stageable
from coral_jupyter.parser import PARSERS
from coral_jupyter.session import Session

_REF_COMMANDS = {"checkout", "merge", "diff", "diffview", "show", "log", "branch", "dag"}
_REF_OPTIONS = {"--branch", "-d", "--delete", "-D", "--force-delete"}
_VARIABLE_COMMANDS = {"add", "commit"}
_REMOTE_COMMANDS = {"push", "pull", "sync"}


def candidates(session: Session, user_ns: dict[str, Any], line: str) -> list[str]:
    """What may come next on ``line`` (text up to the cursor, starting with ``%coral``)."""
    words = line.split()[1:]
    if line.endswith(" "):
        words.append("")
    if len(words) <= 1:
        return sorted(PARSERS)
    command, previous = words[0], words[-2]
    if previous == "--strategy":
        return [s.value for s in MergeStrategy]
    if previous == "--into":
        return sorted(n for n in user_ns if not n.startswith("_"))
    if previous in _REF_OPTIONS or (command in _REF_COMMANDS and not words[-1].startswith("-")):
        return _refs(session)
    if command in _REMOTE_COMMANDS and not words[-1].startswith("-") and len(words) == 2:
        return _safely(lambda: sorted(session.repo.list_remotes()))
    if command == "remote":
        return (
            ["add", "remove"]
            if len(words) == 2
            else _safely(lambda: sorted(session.repo.list_remotes()))
        )
    if command == "get":
        return _weights(session) if len(words) == 2 else _refs(session)
    if command in _VARIABLE_COMMANDS and not previous.startswith("-"):
        return sorted(n for n, v in user_ns.items() if not n.startswith("_") and is_stageable(v))
    if command == "run":
        return _run_words(session, user_ns, words)
    if command == "compare" and not words[-1].startswith("-"):
        return _safely(lambda: [r.name for r in session.repo.runs()])
    if command == "help":
        return sorted(PARSERS)
    return []


_RUN_ACTIONS = ["commit", "end", "log", "show", "start"]


def _run_words(session: Session, user_ns: dict[str, Any], words: list[str]) -> list[str]:
    """``run ACTION``, then a run's name (``show``, ``start --resume``), a variable
    (``commit``), or the ref a new run starts from (``--from``)."""
    if len(words) == 2:
        return _RUN_ACTIONS
    action, previous = words[1], words[-2]
    if previous == "--from":
        return _refs(session)
    if action in ("show", "start") and not words[-1].startswith("-"):
        return _safely(lambda: [r.name for r in session.repo.runs()])
    if action == "commit" and not previous.startswith("-"):
        return sorted(n for n, v in user_ns.items() if not n.startswith("_") and is_stageable(v))
    return []


def _refs(session: Session) -> list[str]:
    return _safely(
        lambda: (
            sorted(b.name for b in session.repo.branch_manager.list_branches())
            + sorted(v.name for v in session.repo.list_versions())
            + ["HEAD"]
        )
    )


def _weights(session: Session) -> list[str]:
    return _safely(lambda: sorted(session.repo.get_commit("HEAD").weight_hashes))


def _safely(fn: Callable[[], list[str]]) -> list[str]:
    """Completion must never raise (no repository yet, no commits yet...)."""
    try:
        return fn()
    except CoralError:
        return []


def complete_hook(session: Session) -> Callable[[Any, Any], list[str]]:
    """An IPython ``complete_command`` hook for ``%coral``."""

    def hook(shell: Any, event: Any) -> list[str]:
        options = candidates(session, shell.user_ns, event.text_until_cursor)
        return [o for o in options if o.startswith(event.symbol)]

    return hook
