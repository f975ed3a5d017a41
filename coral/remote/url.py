"""Remote URLs: ``file:///path``, ``s3://bucket/prefix``, ``minio://host[:port]/bucket/prefix``.

A MinIO remote is S3 with an endpoint: ``minio://host:9000/models/team?secure=false`` talks
plain HTTP to ``host:9000``. Nothing secret ever goes in a URL; credentials come from boto3's
usual chain (environment, ``~/.aws``, a named profile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from coral.errors import InvalidValueError

BACKENDS = ("file", "s3", "minio", "memory")

# S3's bucket naming rules (the common subset MinIO also enforces).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_OPTIONS = {"secure", "region", "profile", "endpoint"}


@dataclass(frozen=True)
class RemoteSpec:
    """A parsed remote URL.

    Attributes:
        backend: "file", "s3", "minio" or "memory" (tests).
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


def parse_remote_url(url: str) -> RemoteSpec:
    """Parse and check a remote URL; raises :class:`InvalidValueError` saying what is wrong."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidValueError("a remote URL must be a non-empty string, e.g. s3://bucket/prefix")
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in BACKENDS:
        raise InvalidValueError(
            f"unsupported remote URL {url!r}: use file:///path, s3://bucket/prefix or "
            "minio://host[:port]/bucket/prefix"
        )
    if parts.username or parts.password:
        raise InvalidValueError(
            "remote URLs never carry credentials (they would be saved in .coral/remotes.json); "
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or use an AWS profile instead"
        )
    options = _options(url, parts.query)
    if scheme == "file":
        return _file_spec(url, parts.netloc, parts.path)
    if scheme == "memory":
        return RemoteSpec("memory", bucket=parts.netloc, prefix=_prefix(parts.path))
    if scheme == "s3":
        bucket, prefix = parts.netloc, _prefix(parts.path)
        endpoint = options.get("endpoint")
    else:  # minio: the host is the endpoint, the first path segment the bucket
        if not parts.hostname:
            raise InvalidValueError(f"{url!r} names no host: minio://host[:port]/bucket/prefix")
        bucket, _, rest = parts.path.lstrip("/").partition("/")
        prefix = _prefix(rest)
        secure = options.get("secure", "true").lower() not in ("false", "0", "no")
        endpoint = f"{'https' if secure else 'http'}://{parts.netloc}"
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


def _options(url: str, query: str) -> dict[str, str]:
    parsed = parse_qs(query, keep_blank_values=True)
    unknown = set(parsed) - _OPTIONS
    if unknown:
        raise InvalidValueError(
            f"unknown option(s) {sorted(unknown)} in {url!r}; known: {sorted(_OPTIONS)}"
        )
    return {key: values[-1] for key, values in parsed.items()}


def _file_spec(url: str, netloc: str, path: str) -> RemoteSpec:
    if netloc not in ("", "localhost"):
        raise InvalidValueError(f"{url!r}: a file URL needs three slashes, file:///abs/path")
    folder = Path(unquote(path))
    if not folder.is_absolute() or not path:
        raise InvalidValueError(f"{url!r}: a file remote needs an absolute path, file:///abs/path")
    return RemoteSpec("file", path=folder)


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
        raise InvalidValueError(
            "remote URLs never carry credentials (they would be saved in .coral/remotes.json); "
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or use an AWS profile instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValueError(
            f"{url!r}: the endpoint must be an http(s) URL such as http://localhost:9000"
        )
