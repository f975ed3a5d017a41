"""S3 and S3-compatible stores (MinIO, Ceph, R2...) through boto3 (the ``s3`` extra).

Credentials come only from boto3's own chain (environment variables, ``~/.aws`` files, a
named profile, an instance role): nothing secret is ever passed in or saved. Branch refs move
with S3's conditional writes (``If-Match`` / ``If-None-Match``), so two pushers racing for
one branch cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coral.errors import MissingExtraError, RemoteError
from coral.remote.backend import (
    Backend,
    Blob,
    LocationNotFound,
    PreconditionFailed,
    RemoteKeyNotFound,
    read_into,
)

if TYPE_CHECKING:  # only a type here: coral.remote.url opens this backend from its table
    from coral.remote.url import RemoteSpec

MULTIPART_THRESHOLD = 64 << 20
MULTIPART_CHUNK = 16 << 20


def _boto3() -> Any:
    try:
        import boto3
        import botocore.config
    except ImportError:
        raise MissingExtraError.for_extra("boto3", "s3", "An S3 or MinIO remote") from None
    return boto3, botocore.config


class S3Backend(Backend):
    """A remote's keys in an S3 bucket, under the spec's prefix (MinIO and other
    S3-compatible stores through the spec's endpoint)."""

    def __init__(
        self,
        spec: RemoteSpec,
        max_connections: int = 16,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = MULTIPART_CHUNK,
    ) -> None:
        boto3, config = _boto3()
        self.spec = spec
        from boto3.s3.transfer import TransferConfig

        session = boto3.session.Session(profile_name=spec.profile, region_name=spec.region)
        self._client = session.client(
            "s3",
            endpoint_url=spec.endpoint,
            config=config.Config(
                max_pool_connections=max_connections,
                retries={"max_attempts": 5, "mode": "standard"},
                # Path-style addressing works with every S3-compatible server (MinIO's default).
                s3={"addressing_style": "path"} if spec.endpoint else {},
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=part_size,
            max_concurrency=4,
        )
        self._multipart_threshold = multipart_threshold
        self.bucket = spec.bucket
        self._prefix = f"{spec.prefix}/" if spec.prefix else ""
        self._where = f"s3://{spec.bucket}/{spec.prefix}" + (
            f" at {spec.endpoint}" if spec.endpoint else ""
        )

    def _key(self, key: str) -> str:
        return self._prefix + key

    def _call(self, what: str, key: str, fn: Any, **kwargs: Any) -> Any:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == 412:
                raise PreconditionFailed(f"{key} changed on the remote") from None
            if code in ("NoSuchKey", "404", "NotFound") or status == 404:
                if code == "NoSuchBucket":
                    raise LocationNotFound(
                        f"the bucket {self.bucket!r} does not exist; check the URL, or create "
                        "the bucket first (a push cannot create it)"
                    ) from None
                raise RemoteKeyNotFound(f"no {key} on the remote") from None
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise RemoteError(
                    f"{self._where} refused to {what} ({code}): check the AWS credentials in "
                    "the environment or the profile"
                ) from None
            raise RemoteError(f"cannot {what} {key} on {self._where}: {err}") from None
        except (BotoCoreError, Boto3Error) as err:  # Boto3Error: failed multipart transfers
            raise RemoteError(f"cannot {what} {key} on {self._where}: {err}") from None

    def exists(self, key: str) -> bool:
        try:
            self._call(
                "read", key, self._client.head_object, Bucket=self.bucket, Key=self._key(key)
            )
        except RemoteKeyNotFound:
            return False
        return True

    def get(self, key: str, max_bytes: int) -> Blob:
        response = self._call(
            "read", key, self._client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        body = response["Body"]
        try:
            if int(response["ContentLength"]) > max_bytes:
                raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
            data = body.read(max_bytes + 1)
        finally:
            body.close()
        if len(data) > max_bytes:
            raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
        return Blob(data, str(response["ETag"]))

    def get_to_file(self, key: str, target: Path, max_bytes: int) -> int:
        response = self._call(
            "read", key, self._client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        body = response["Body"]
        try:
            # The length arrives with the headers: an oversized blob is refused unread.
            size = int(response["ContentLength"])
            if size > max_bytes:
                raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
            if size < self._multipart_threshold:
                return read_into(body, target, max_bytes, key)
        finally:
            body.close()
        # Large: ranged GETs in parallel.
        self._call(
            "read",
            key,
            self._client.download_file,
            Bucket=self.bucket,
            Key=self._key(key),
            Filename=str(target),
            Config=self._transfer,
        )
        actual = target.stat().st_size
        if actual > max_bytes:  # replaced on the remote meanwhile
            raise RemoteError(f"{key} is larger than the {max_bytes} bytes expected")
        return actual

    def put(self, key: str, data: bytes) -> None:
        self._call(
            "write", key, self._client.put_object, Bucket=self.bucket, Key=self._key(key), Body=data
        )

    def put_file(self, key: str, source: Path) -> None:
        self._call(
            "write",
            key,
            self._client.upload_file,
            Filename=str(source),
            Bucket=self.bucket,
            Key=self._key(key),
            Config=self._transfer,
        )

    def put_if(self, key: str, data: bytes, *, etag: str | None) -> str:
        condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
        try:
            response = self._call(
                "write",
                key,
                self._client.put_object,
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                **condition,
            )
        except RemoteKeyNotFound:  # S3 answers If-Match on a deleted key with 404
            raise PreconditionFailed(f"{key} changed on the remote") from None
        return str(response["ETag"])

    def delete(self, key: str) -> None:
        self._call(
            "delete", key, self._client.delete_object, Bucket=self.bucket, Key=self._key(key)
        )

    def delete_if(self, key: str, *, etag: str) -> None:
        try:
            self._call(
                "delete",
                key,
                self._client.delete_object,
                Bucket=self.bucket,
                Key=self._key(key),
                IfMatch=etag,
            )
        except RemoteKeyNotFound:
            raise PreconditionFailed(f"{key} changed on the remote") from None

    def list(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = self._call(
            "list",
            prefix,
            lambda: iter(paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix))),
        )
        cut = len(self._prefix)
        while True:
            page = self._call("list", prefix, lambda: next(pages, None))
            if page is None:
                return
            for entry in page.get("Contents", ()):
                yield str(entry["Key"])[cut:]

    def close(self) -> None:
        self._client.close()
