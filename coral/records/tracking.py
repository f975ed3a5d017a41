"""Remote-tracking refs, ``.coral/refs/remotes/<remote>/<branch>``: where each remote branch
was when this repository last pushed to or pulled from it. They answer "ahead/behind" without
asking the remote, resolve as ``origin/main``, and keep what they point at reachable."""

from __future__ import annotations

from coral.errors import InvalidNameError, RefExistsError, RepositoryFormatError
from coral.records.backend import KeyClashError, RecordBackend
from coral.records.commit import is_commit_hash
from coral.records.keys import REMOTE_REFS
from coral.records.refnames import check_ref_name
from coral.storage.fsutil import dumps_json, loads_json


def check_remote_name(name: object) -> str:
    """A remote's name: a valid ref name without '/' (it is a folder under refs/remotes)."""
    checked = check_ref_name(name, "remote")
    if "/" in checked:
        raise InvalidNameError(f"invalid remote name {checked!r}: it contains '/'")
    return checked


class TrackingRefs:
    """The remote-tracking refs of every remote, over a :class:`RecordBackend`."""

    def __init__(self, records: RecordBackend) -> None:
        self.records = records

    @staticmethod
    def _folder(remote: str) -> str:
        return f"{REMOTE_REFS}/{check_remote_name(remote)}"

    def _key(self, remote: str, branch: str) -> str:
        return f"{self._folder(remote)}/{check_ref_name(branch)}"

    def get(self, remote: str, branch: str) -> str | None:
        key = self._key(remote, branch)
        try:
            raw = self.records.read(key)
            if raw is None:
                return None
            commit_hash = loads_json(raw).get("commit_hash")
        except (ValueError, AttributeError) as err:
            raise RepositoryFormatError(
                f"remote-tracking ref {self.records.describe(key)} is unreadable: {err}"
            ) from err
        if not isinstance(commit_hash, str) or not is_commit_hash(commit_hash):
            raise RepositoryFormatError(
                f"remote-tracking ref {self.records.describe(key)} holds no commit hash"
            )
        return commit_hash

    def remotes(self) -> list[str]:
        """The names of the remotes that have tracking refs, as stored (fsck checks them)."""
        names = {key.split("/")[2] for key in self.records.list(REMOTE_REFS) if key.count("/") >= 3}
        return sorted(names)

    def all(self, remote: str) -> dict[str, str]:
        """``{branch: commit_hash}`` for one remote."""
        folder = self._folder(remote)
        out: dict[str, str] = {}
        for key in self.records.list(folder):
            branch = key[len(folder) + 1 :]
            try:
                commit_hash = self.get(remote, branch)
            except InvalidNameError:
                continue
            if commit_hash is not None:
                out[branch] = commit_hash
        return dict(sorted(out.items()))

    def every_ref(self) -> dict[str, str]:
        """``{"remote/branch": commit_hash}`` for every remote (reachability roots)."""
        out: dict[str, str] = {}
        for remote in self.remotes():
            try:
                refs = self.all(remote)
            except InvalidNameError:
                continue  # not a folder Coral made
            out.update((f"{remote}/{branch}", h) for branch, h in refs.items())
        return out

    def every_commit(self) -> list[str]:
        """What every tracking ref of every remote points at."""
        return list(self.every_ref().values())

    def record(self, remote: str, branch: str, commit_hash: str) -> None:
        """Record a remote branch; :class:`RefExistsError` when another tracked name is a
        folder of it or it of another ('dev' and 'dev/x' cannot both be records)."""
        try:
            self.records.write(self._key(remote, branch), dumps_json({"commit_hash": commit_hash}))
        except KeyClashError:
            raise RefExistsError(
                f"cannot track {remote}/{branch}: it clashes with another branch name of "
                f"{remote!r} ('x' and 'x/y' cannot both exist)"
            ) from None

    def remove(self, remote: str, branch: str) -> None:
        # The backend removes the folders this leaves empty: they would block a later
        # branch of the folder's name.
        self.records.delete(self._key(remote, branch))

    def keep_only(self, remote: str, branches: set[str]) -> None:
        """Forget the remote's branches that are no longer there (deleted on the remote)."""
        for name in set(self.all(remote)) - branches:
            self.remove(remote, name)

    def drop_remote(self, remote: str) -> None:
        self.records.delete_many(self.records.list(self._folder(remote)))
