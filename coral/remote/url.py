"""Remote URLs: ``file:///path``, ``s3://bucket/prefix``, ``minio://host[:port]/bucket/prefix``.

A MinIO remote is S3 with an endpoint: ``minio://host:9000/models/team?secure=false`` talks
plain HTTP to ``host:9000``. Nothing secret ever goes in a URL; credentials come from boto3's
usual chain (environment, ``~/.aws``, a named profile).

:data:`SCHEMES` is the one table from a URL scheme to how its URLs parse and the backend they
open: adding a kind of remote is one entry. A test-only backend (:class:`MemoryBackend
<coral.remote.memory.MemoryBackend>`) has no scheme: it is handed in
(:func:`coral.remote.open_remote`), as httpx takes ``Client(transport=MockTransport(...))``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from coral.errors import InvalidValueError
from coral.remote.backend import Backend
from coral.remote.file import FileBackend
from coral.remote.s3 import S3Backend  # boto3 itself is imported when a backend is made

# S3's bucket naming rules (the common subset MinIO also enforces).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_OPTIONS = {"secure", "region", "profile", "endpoint"}
_NO_CREDENTIALS = (
    "remote URLs never carry credentials (they would be saved in .coral/remotes.json); "
    "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or use an AWS profile instead"
)


@dataclass(frozen=True)
class RemoteSpec:
    """A parsed remote URL.

    Attributes:
        backend: the URL's scheme: "file", "s3" or "minio" (a key of :data:`SCHEMES`).
        path: the folder of a file remote.
        bucket, prefix: where an S3 remote's keys live ("" prefix: the bucket's root).
        endpoint: the S3 endpoint URL (MinIO, or any S3-compatible store); None for AWS.
        region, profile: passed to boto3 when given.
    """

    backend: str
    path: Path | None = None
    bucket: str = ""
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    profile: str | None = None


@dataclass(frozen=True)
class Scheme:
    """One kind of remote URL.

    Attributes:
        example: the URL's shape, as error messages show it.
        parse: ``parse(url, parts, options)`` -> the checked spec (``parts`` from
            :func:`urllib.parse.urlsplit`, ``options`` the query, already checked).
        open: the backend a spec of this scheme names.
    """

    example: str
    parse: Callable[[str, SplitResult, Mapping[str, str]], RemoteSpec]
    open: Callable[[RemoteSpec], Backend]


def parse_remote_url(url: str) -> RemoteSpec:
    """Parse and check a remote URL; raises :class:`InvalidValueError` saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidValueError("a remote URL must be a non-empty string, e.g. s3://bucket/prefix")
    parts = urlsplit(url.strip())
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        shapes = [s.example for s in SCHEMES.values()]
        raise InvalidValueError(
            f"unsupported remote URL {url!r}: use {', '.join(shapes[:-1])} or {shapes[-1]}"
        )
    if parts.username or parts.password:
        raise InvalidValueError(_NO_CREDENTIALS)
    return scheme.parse(url, parts, _options(url, parts.query))


def open_backend(url: str) -> Backend:
    """The backend a remote URL names (boto3 only imported for S3/MinIO)."""
    spec = parse_remote_url(url)
    return SCHEMES[spec.backend].open(spec)


def _options(url: str, query: str) -> dict[str, str]:
    parsed = parse_qs(query, keep_blank_values=True)
    unknown = set(parsed) - _OPTIONS
    if unknown:
        raise InvalidValueError(
            f"unknown option(s) {sorted(unknown)} in {url!r}; known: {sorted(_OPTIONS)}"
        )
    return {key: values[-1] for key, values in parsed.items()}


def _file_spec(url: str, parts: SplitResult, options: Mapping[str, str]) -> RemoteSpec:
    if parts.netloc not in ("", "localhost"):
        raise InvalidValueError(f"{url!r}: a file URL needs three slashes, file:///abs/path")
    folder = Path(unquote(parts.path))
    if not folder.is_absolute() or not parts.path:
        raise InvalidValueError(f"{url!r}: a file remote needs an absolute path, file:///abs/path")
    return RemoteSpec("file", path=folder)


def _s3_spec(url: str, parts: SplitResult, options: Mapping[str, str]) -> RemoteSpec:
    return _bucket_spec("s3", url, parts.netloc, parts.path, options.get("endpoint"), options)


def _minio_spec(url: str, parts: SplitResult, options: Mapping[str, str]) -> RemoteSpec:
    # The host is the endpoint, the first path segment the bucket.
    if not parts.hostname:
        raise InvalidValueError(f"{url!r} names no host: minio://host[:port]/bucket/prefix")
    bucket, _, rest = parts.path.lstrip("/").partition("/")
    secure = options.get("secure", "true").lower() not in ("false", "0", "no")
    endpoint = f"{'https' if secure else 'http'}://{parts.netloc}"
    return _bucket_spec("minio", url, bucket, rest, endpoint, options)


def _bucket_spec(
    scheme: str,
    url: str,
    bucket: str,
    path: str,
    endpoint: str | None,
    options: Mapping[str, str],
) -> RemoteSpec:
    """The spec of an S3-compatible remote, its bucket, prefix and endpoint checked."""
    prefix = _prefix(path)
    _check_bucket(url, bucket)
    if endpoint is not None:
        _check_endpoint(url, endpoint)
    return RemoteSpec(
        scheme,
        bucket=bucket,
        prefix=prefix,
        endpoint=endpoint,
        region=options.get("region"),
        profile=options.get("profile"),
    )


def _prefix(path: str) -> str:
    """Key prefix without leading/trailing slashes; empty segments and dot segments refused
    (they would make keys no S3 console or file system shows the same way)."""
    segments = [s for s in unquote(path).split("/") if s]
    if any(s in (".", "..") for s in segments):
        raise InvalidValueError(f"a remote prefix cannot contain '.' or '..': {path!r}")
    return "/".join(segments)


def _check_bucket(url: str, bucket: str) -> None:
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise InvalidValueError(
            f"{url!r}: {bucket!r} is not a valid bucket name (3-63 characters: lowercase "
            "letters, digits, '.' and '-')"
        )


def _check_endpoint(url: str, endpoint: str) -> None:
    parts = urlsplit(endpoint)
    if parts.username or parts.password:
        raise InvalidValueError(_NO_CREDENTIALS)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValueError(
            f"{url!r}: the endpoint must be an http(s) URL such as http://localhost:9000"
        )


def _open_file(spec: RemoteSpec) -> Backend:
    assert spec.path is not None  # _file_spec always sets it
    return FileBackend(spec.path)


SCHEMES: Mapping[str, Scheme] = {
    "file": Scheme("file:///path", _file_spec, _open_file),
    "s3": Scheme("s3://bucket/prefix", _s3_spec, S3Backend),
    "minio": Scheme("minio://host[:port]/bucket/prefix", _minio_spec, S3Backend),
}
"""Every URL scheme a remote may have, in the order error messages list them."""

BACKENDS = tuple(SCHEMES)
