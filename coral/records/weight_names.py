"""Weight names as users type them: checked, collected, and "did you mean" when missing."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from coral.errors import WeightTypeError


def check_weight_name(name: object) -> str:
    if not isinstance(name, str) or not name or "\x00" in name:
        raise WeightTypeError(f"weight names must be non-empty strings, got {name!r}")
    try:
        name.encode()
    except UnicodeEncodeError:  # a lone surrogate: no file or JSON can hold it
        raise WeightTypeError(
            f"weight name {name!r} is not valid Unicode (a lone surrogate); decode it properly"
        ) from None
    return name


def name_set(names: str | Iterable[str]) -> set[str]:
    if isinstance(names, str):
        return {names}
    if not isinstance(names, Iterable):
        raise WeightTypeError(f"expected a weight name or a list of names, got {names!r}")
    result = set(names)
    if not all(isinstance(n, str) for n in result):
        raise WeightTypeError(f"weight names must be strings, got {sorted(map(repr, result))}")
    return result


def missing_weight_message(name: str, known: Iterable[str], where: str) -> str:
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return f"no weight named {name!r} in {where}{hint}"
