"""Branch and tag names: git's ``check-ref-format`` rules, plus path safety.

A valid name can never address a file outside ``.coral/refs`` (no ``..``, no absolute paths,
no empty components), and never collides with the relative-ref syntax (``~``, ``^``) or with
``HEAD``.
"""

from __future__ import annotations

import re

from coral.errors import InvalidNameError

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_FULL_HASH = re.compile(r"^[0-9a-f]{32}$")


def check_ref_name(name: object, kind: str = "branch") -> str:
    """Return ``name`` if it is a valid branch/tag name, else raise :class:`InvalidNameError`."""
    if not isinstance(name, str):
        raise InvalidNameError(f"{kind} name must be a string, got {type(name).__name__}")
    reason = _problem(name)
    if reason:
        raise InvalidNameError(
            f"invalid {kind} name {name!r}: {reason} "
            "(names follow git's rules, e.g. 'main', 'feature/lr-3e-4', 'v1.0')"
        )
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if name == "HEAD" or name == "@":
        return f"{name!r} is reserved"
    if _FULL_HASH.match(name):
        return "it looks like a commit hash, which it would hide"
    if _FORBIDDEN_CHARS.search(name):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if name.startswith("-"):
        return "it starts with '-' (it would read as an option on a command line)"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "it starts or ends with '/' or contains '//'"
    if ".." in name:
        return "it contains '..'"
    if "@{" in name:
        return "it contains '@{'"
    if name.endswith("."):
        return "it ends with '.'"
    for part in name.split("/"):
        if part.startswith("."):
            return "a component starts with '.'"
        if part.endswith(".lock"):
            return "a component ends with '.lock'"
    return None
