"""``.coral/remotes.json``: remote names, URLs and non-secret options (endpoint, region,
profile). Credentials are never written here: boto3 finds them in the environment or the AWS
config files, and a URL carrying any is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coral.errors import RemoteError, RemoteNotFoundError, RepositoryFormatError
from coral.records.tracking import check_remote_name
from coral.remote.backend import Backend
from coral.remote.url import RemoteSpec, parse_remote_url
from coral.storage.fsutil import atomic_write_json, read_json
from coral.storage.locking import RepositoryLock


class RemoteConfig:
    def __init__(self, path: Path, tmp_dir: Path, lock: RepositoryLock) -> None:
        self.path = path
        self._tmp_dir = tmp_dir
        self._lock = lock

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = read_json(self.path)
        except FileNotFoundError:
            return {}
        except ValueError as err:
            raise RepositoryFormatError(f"{self.path} is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise RepositoryFormatError(f"{self.path} must hold a JSON object")
        return data

    def all(self) -> dict[str, dict[str, Any]]:
        """``{name: {"url", "backend", ...options}}``, sorted by name."""
        return {name: dict(entry) for name, entry in sorted(self._read().items())}

    def get(self, name: str) -> dict[str, Any]:
        entry = self._read().get(name)
        if entry is None:
            known = ", ".join(sorted(self._read())) or "none"
            raise RemoteNotFoundError(
                f"no remote named {name!r} (configured: {known}); add one with "
                f"repo.add_remote({name!r}, 's3://bucket/prefix')"
            )
        return dict(entry)

    def add(self, name: str, url: str) -> dict[str, Any]:
        check_remote_name(name)
        spec = parse_remote_url(url)
        entry: dict[str, Any] = {"url": url.strip(), "backend": spec.backend}
        for option in ("endpoint", "region", "profile"):
            value = getattr(spec, option)
            if value:
                entry[option] = value
        with self._lock.hold():
            data = self._read()
            if name in data:
                raise RemoteError(
                    f"a remote named {name!r} exists ({data[name].get('url')}); remove it first"
                )
            data[name] = entry
            atomic_write_json(self.path, data, tmp_dir=self._tmp_dir)
        return entry

    def remove(self, name: str) -> None:
        with self._lock.hold():
            data = self._read()
            if name not in data:
                self.get(name)  # raises the helpful error
            del data[name]
            atomic_write_json(self.path, data, tmp_dir=self._tmp_dir)


def open_backend(url: str) -> Backend:
    """The backend a remote URL names (boto3 only imported for S3/MinIO)."""
    spec: RemoteSpec = parse_remote_url(url)
    if spec.backend == "file":
        from coral.remote.file import FileBackend

        assert spec.path is not None
        return FileBackend(spec.path)
    if spec.backend == "memory":
        from coral.remote.memory import MemoryBackend

        return MemoryBackend(f"{spec.bucket}/{spec.prefix}")
    from coral.remote.s3 import S3Backend

    return S3Backend(spec)
