"""Branch and tag names: git's ``check-ref-format`` rules, plus path safety.

A valid name can never address a file outside ``.coral/refs`` (no ``..``, no absolute paths,
no empty components), never collides with the relative-ref syntax (``~``, ``^``) or with
``HEAD``, fits in a file name, and has one spelling: Unicode names must be NFC (so ``café``
typed on two keyboards is one branch, not two) and hold no invisible or control characters.
"""

from __future__ import annotations

import re
import unicodedata

from coral.errors import InvalidNameError

_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_FULL_HASH = re.compile(r"[0-9a-f]{32}")
MAX_COMPONENT_BYTES = 200  # a file name, with room for a temp file's prefix and suffix
MAX_NAME_BYTES = 1000
# Unicode controls, invisible format characters (bidi overrides, zero-width joiners),
# surrogates, unassigned code points and non-ASCII spaces or line separators.
_INVISIBLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}


def check_ref_name(name: object, kind: str = "branch") -> str:
    """Return ``name`` if it is a valid branch/tag name, else raise :class:`InvalidNameError`."""
    if not isinstance(name, str):
        raise InvalidNameError(f"{kind} name must be a string, got {type(name).__name__}")
    reason = _problem(name)
    if reason:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InvalidNameError(
            f"invalid {kind} name {shown!r}: {reason} "
            "(names follow git's rules, e.g. 'main', 'feature/lr-3e-4', 'v1.0')"
        )
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if name == "HEAD" or name == "@":
        return f"{name!r} is reserved"
    if _FULL_HASH.fullmatch(name):
        return "it looks like a commit hash, which it would hide"
    if _FORBIDDEN_CHARS.search(name):
        return "it contains a space, a control character or one of ~ ^ : ? * [ \\"
    if not name.isascii():
        odd = next((c for c in name if unicodedata.category(c) in _INVISIBLE), None)
        if odd is not None:
            return f"it contains the invisible or control character U+{ord(odd):04X}"
        if unicodedata.normalize("NFC", name) != name:
            return f"it is not in Unicode NFC form (write {unicodedata.normalize('NFC', name)!r})"
    if len(name.encode()) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    if any(len(part.encode()) > MAX_COMPONENT_BYTES for part in name.split("/")):
        return f"a component is longer than {MAX_COMPONENT_BYTES} bytes"
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
