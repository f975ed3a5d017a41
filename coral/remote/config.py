"""The remotes of one repository (the ``remotes.json`` record): names, URLs and non-secret
options (endpoint, region, profile). Credentials are never written here: boto3 finds them in
the environment or the AWS config files, and a URL carrying any is refused."""

from __future__ import annotations

from typing import Any

from coral.errors import RemoteError, RemoteNotFoundError
from coral.records.document import JsonDocument
from coral.records.tracking import check_remote_name
from coral.remote.url import open_backend, parse_remote_url

# open_backend lives beside the URL table; it is also importable from here, where remotes
# were opened before the table existed.
__all__ = ["RemoteConfig", "open_backend"]


class RemoteConfig:
    """The remotes configured in one repository, kept in its ``remotes`` document (on disk
    or in memory) and changed under the repository lock."""

    def __init__(self, document: JsonDocument) -> None:
        self._document = document

    def all(self) -> dict[str, dict[str, Any]]:
        """``{name: {"url", "backend", ...options}}``, sorted by name."""
        return {name: dict(entry) for name, entry in sorted(self._document.read().items())}

    def get(self, name: str) -> dict[str, Any]:
        """The entry of remote ``name``; :class:`RemoteNotFoundError` naming the configured
        ones when there is none."""
        remotes = self._document.read()
        entry = remotes.get(name)
        if entry is None:
            known = ", ".join(sorted(remotes)) or "none"
            raise RemoteNotFoundError(
                f"no remote named {name!r} (configured: {known}); add one with "
                f"repo.add_remote({name!r}, 's3://bucket/prefix')"
            )
        return dict(entry)

    def add(self, name: str, url: str) -> dict[str, Any]:
        """Configure remote ``name`` at ``url`` (checked, not contacted); the entry written."""
        check_remote_name(name)
        spec = parse_remote_url(url)
        entry: dict[str, Any] = {"url": url.strip(), "backend": spec.backend}
        for option in ("endpoint", "region", "profile"):
            value = getattr(spec, option)
            if value:
                entry[option] = value
        with self._document.editing() as remotes:
            if name in remotes:
                raise RemoteError(
                    f"a remote named {name!r} exists ({remotes[name].get('url')}); remove it first"
                )
            remotes[name] = entry
        return entry

    def remove(self, name: str) -> None:
        """Forget remote ``name``; :class:`RemoteNotFoundError` when there is none."""
        with self._document.editing() as remotes:
            if name not in remotes:
                self.get(name)  # raises the helpful error
            del remotes[name]
