"""Where things live on a remote, and the checks on every name read back from one.

::

    coral-remote.json          {"format": 1}: marks a Coral remote
    HEAD                       the default branch's name (what a clone checks out)
    objects/ab/ab12...         one stored tensor object, as stored (deltas included)
    commits/<hash>.json        commit files, byte for byte as in .coral/objects/commits/
    refs/heads/<branch>        {"commit_hash": ...}; moved only by compare-and-swap
    tags/<name>.json           a tag (version) with its metrics

A remote is shared and may hold anything: names listed from it are checked with the same
rules as local ones before they are used, and a name that fails is skipped and reported.
"""

from __future__ import annotations

from coral.core.object_id import is_object_id
from coral.errors import InvalidNameError
from coral.records.commit import is_commit_hash
from coral.records.refnames import check_ref_name

MARKER = "coral-remote.json"
HEAD = "HEAD"
FORMAT = 1
OBJECTS = "objects/"
COMMITS = "commits/"
BRANCHES = "refs/heads/"
TAGS = "tags/"

# Caps on what is read from a remote before anything is allocated.
MAX_SMALL_BLOB = 16 << 20  # commit, ref, tag, marker files
MAX_NAME_LENGTH = 1024


def object_key(oid: str) -> str:
    return f"{OBJECTS}{oid[:2]}/{oid}"


def commit_key(commit_hash: str) -> str:
    return f"{COMMITS}{commit_hash}.json"


def branch_key(name: str) -> str:
    return BRANCHES + name


def tag_key(name: str) -> str:
    return f"{TAGS}{name}.json"


def object_from_key(key: str) -> str | None:
    """The object ID a listed key names, or None for anything else."""
    head, _, oid = key.removeprefix(OBJECTS).partition("/")
    ok = key.startswith(OBJECTS) and is_object_id(oid) and head == oid[:2]
    return oid if ok else None


def commit_from_key(key: str) -> str | None:
    name = key.removeprefix(COMMITS).removesuffix(".json")
    ok = key.startswith(COMMITS) and key.endswith(".json") and is_commit_hash(name)
    return name if ok else None


def branch_from_key(key: str) -> str:
    """The branch a listed ref key names; :class:`InvalidNameError` if it is no valid name."""
    return _checked(key.removeprefix(BRANCHES), "remote branch")


def tag_from_key(key: str) -> str:
    if not key.endswith(".json"):
        raise InvalidNameError(f"{key!r} is not a tag file")
    return _checked(key.removeprefix(TAGS).removesuffix(".json"), "remote tag")


def _checked(name: str, kind: str) -> str:
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"{kind} name of {len(name)} characters refused")
    return check_ref_name(name, kind)
