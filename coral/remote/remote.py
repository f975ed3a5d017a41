"""A configured remote: typed reads and writes of commits, refs, tags and objects over a
:class:`~coral.remote.backend.Backend`, with every name and file read back checked."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

from coral.core.object_id import is_object_id
from coral.errors import (
    InvalidNameError,
    RemoteError,
    RemoteFormatError,
    RemoteNotFoundError,
)
from coral.records.commit import Commit, is_commit_hash
from coral.records.commits import CommitStore
from coral.records.tags import Version, check_metrics
from coral.remote import keys
from coral.remote.backend import Backend, LocationNotFound, PreconditionFailed, RemoteKeyNotFound
from coral.remote.url import open_backend
from coral.storage.fsutil import dumps_json, loads_json


def open_remote(name: str, url: str, backend: Backend | None = None) -> Remote:
    """The remote ``name`` at ``url``, for :func:`~coral.remote.push.push`,
    :func:`~coral.remote.pull.pull` and the other transfers (use it as a context manager).

    Args:
        name: the remote's name (tracking refs are recorded as ``<name>/<branch>``).
        url: a remote URL (``file://``, ``s3://``, ``minio://``), whose scheme picks the
            backend; with ``backend``, only a label for messages, never parsed.
        backend: a backend to use instead of one opened from ``url``, such as a
            :class:`~coral.remote.memory.MemoryBackend` in tests. It is the caller's: closing
            the remote leaves it open.

    Raises:
        InvalidValueError: without ``backend``, a URL that is malformed or of an unknown scheme.

    Example:
        >>> from coral.remote import LocalSide, MemoryBackend, open_remote  # doctest: +SKIP
        >>> from coral.remote.push import push                              # doctest: +SKIP
        >>> shared = MemoryBackend()                                        # doctest: +SKIP
        >>> local = LocalSide.from_parts(repo.parts, repo.branch_manager)   # doctest: +SKIP
        >>> with open_remote("origin", "memory", backend=shared) as remote: # doctest: +SKIP
        ...     push(local, remote)
    """
    if backend is None:
        return Remote(name, url, open_backend(url))
    return Remote(name, url, backend, owns_backend=False)


@dataclass(frozen=True)
class RemoteRef:
    """A remote branch: where it points and the etag its compare-and-swap needs."""

    name: str
    commit_hash: str
    etag: str


@dataclass
class RemoteRefs:
    """What a remote's refs say, plus the names that were refused (reported, never used)."""

    branches: dict[str, RemoteRef] = field(default_factory=dict)
    tags: dict[str, Version] = field(default_factory=dict)
    head: str | None = None
    rejected: dict[str, str] = field(default_factory=dict)  # remote key -> why


class Remote:
    """One remote, as a transfer uses it: its name (for tracking refs such as
    ``origin/main``), its URL (for messages) and the backend its keys live in.

    Args:
        name: the remote's name in this repository.
        url: where it is, as shown in messages.
        backend: the storage.
        owns_backend: close the backend when the remote is closed (False for one handed in
            by a caller, who keeps using it).
    """

    def __init__(self, name: str, url: str, backend: Backend, *, owns_backend: bool = True) -> None:
        self.name = name
        self.url = url
        self.backend = backend
        self._owns_backend = owns_backend

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._owns_backend:
            self.backend.close()

    @contextlib.contextmanager
    def _located(self) -> Iterator[None]:
        """A missing folder or bucket, reported with this remote's URL."""
        try:
            yield
        except LocationNotFound as err:
            raise RemoteNotFoundError(f"no remote at {self.url}: {err}") from None

    # --- the marker ---

    def is_initialised(self) -> bool:
        """Whether a Coral remote is here; False for an empty folder or bucket (nothing
        pushed yet). Raises :class:`RemoteNotFoundError` when the folder or bucket itself
        does not exist."""
        try:
            with self._located():
                blob = self.backend.get(keys.MARKER, keys.MAX_SMALL_BLOB)
        except RemoteKeyNotFound:
            return False
        try:
            found = loads_json(blob.data).get("format")
        except (ValueError, AttributeError):
            found = None
        if found != keys.FORMAT:
            raise RemoteFormatError(
                f"{self.url} holds a Coral remote of format {found!r}; this Coral reads format "
                f"{keys.FORMAT}: upgrade Coral"
            )
        return True

    def initialise(self) -> None:
        """Mark the location as a Coral remote (a push's first step). The write creates a
        missing folder; a missing bucket fails it with :class:`RemoteNotFoundError`."""
        with contextlib.suppress(RemoteNotFoundError):  # the write below creates or refuses
            if self.is_initialised():
                return
        try:
            with self._located():
                self.backend.put_if(keys.MARKER, dumps_json({"format": keys.FORMAT}), etag=None)
        except PreconditionFailed:
            self.is_initialised()  # another pusher created it first: check its format

    # --- listings ---

    def object_ids(self) -> set[str]:
        found = (keys.object_from_key(k) for k in self.backend.list(keys.OBJECTS))
        return {oid for oid in found if oid is not None}

    def commit_hashes(self) -> set[str]:
        found = (keys.commit_from_key(k) for k in self.backend.list(keys.COMMITS))
        return {h for h in found if h is not None}

    def refs(self) -> RemoteRefs:
        out = RemoteRefs()
        with self._located():
            branch_keys = sorted(self.backend.list(keys.BRANCHES))
        for key in branch_keys:
            try:
                name = keys.branch_from_key(key)
                out.branches[name] = self._read_ref(key, name)
            except (InvalidNameError, RemoteFormatError) as err:
                out.rejected[key] = str(err)
            except RemoteKeyNotFound:
                continue  # deleted while listing
        for key in sorted(self.backend.list(keys.TAGS)):
            try:
                tag = self._read_tag(key, keys.tag_from_key(key))
            except (InvalidNameError, RemoteFormatError) as err:
                out.rejected[key] = str(err)
                continue
            except RemoteKeyNotFound:
                continue
            out.tags[tag.name] = tag
        out.head = self._read_head()
        return out

    def _read_ref(self, key: str, name: str) -> RemoteRef:
        blob = self.backend.get(key, keys.MAX_SMALL_BLOB)
        try:
            commit_hash = loads_json(blob.data)["commit_hash"]
        except (ValueError, KeyError, TypeError, AttributeError):
            commit_hash = None
        if not isinstance(commit_hash, str) or not is_commit_hash(commit_hash):
            raise RemoteFormatError(f"remote branch {name!r} does not hold a commit hash")
        return RemoteRef(name, commit_hash, blob.etag)

    def _read_tag(self, key: str, name: str) -> Version:
        blob = self.backend.get(key, keys.MAX_SMALL_BLOB)
        try:
            version = Version.from_dict(loads_json(blob.data))
            version.metrics = check_metrics(version.metrics)
            valid = (
                version.name == name
                and isinstance(version.commit_hash, str)
                and is_commit_hash(version.commit_hash)
                and (version.description is None or isinstance(version.description, str))
            )
        except Exception as err:  # anything a hostile file makes parsing raise
            raise RemoteFormatError(f"remote tag {name!r} is unreadable: {err}") from None
        if not valid:
            raise RemoteFormatError(f"remote tag {name!r} is inconsistent with its file name")
        return version

    def _read_head(self) -> str | None:
        try:
            text = self.backend.get(keys.HEAD, keys.MAX_NAME_LENGTH).data.decode().strip()
            return keys.branch_from_key(keys.BRANCHES + text)
        except (RemoteKeyNotFound, UnicodeDecodeError, InvalidNameError, RemoteError):
            return None

    # --- commits ---

    def get_commit(self, commit_hash: str) -> Commit:
        """A commit from the remote, its content checked against its hash."""
        try:
            blob = self.backend.get(keys.commit_key(commit_hash), keys.MAX_SMALL_BLOB)
        except RemoteKeyNotFound:
            raise RemoteFormatError(
                f"the remote has no commit {commit_hash}, which its refs or history need"
            ) from None
        try:
            # CommitStore's own parser: the same hash check as a local read.
            commit = CommitStore._parse(commit_hash, loads_json(blob.data))
        except Exception as err:  # anything a hostile file makes parsing raise
            raise RemoteFormatError(f"remote commit {commit_hash} is damaged: {err}") from None
        # Its hash only proves it is what was pushed; the IDs in it must also be well formed.
        bases = [b for joined in commit.delta_weights.values() for b in str(joined).split(",")]
        names = [*commit.weight_hashes.values(), *bases]
        if not all(is_object_id(h) for h in names) or not all(
            isinstance(p, str) and is_commit_hash(p) for p in commit.parent_hashes
        ):
            raise RemoteFormatError(f"remote commit {commit_hash} names malformed objects")
        return commit

    def put_commit(self, commit: Commit) -> int:
        data = dumps_json(commit.to_dict())
        self.backend.put(keys.commit_key(commit.commit_hash), data)
        return len(data)

    # --- refs and tags ---

    def move_branch(self, name: str, commit_hash: str, etag: str | None) -> str:
        """Compare-and-swap the remote branch (etag None: create it)."""
        return self.backend.put_if(
            keys.branch_key(name), dumps_json({"commit_hash": commit_hash}), etag=etag
        )

    def put_tag(self, version: Version) -> None:
        self.backend.put_if(keys.tag_key(version.name), dumps_json(version.to_dict()), etag=None)

    def replace_tag(self, version: Version) -> None:
        key = keys.tag_key(version.name)
        try:
            etag: str | None = self.backend.get(key, keys.MAX_SMALL_BLOB).etag
        except RemoteKeyNotFound:
            etag = None
        self.backend.put_if(key, dumps_json(version.to_dict()), etag=etag)

    def set_head_if_missing(self, branch: str) -> None:
        with contextlib.suppress(PreconditionFailed):
            self.backend.put_if(keys.HEAD, branch.encode(), etag=None)
