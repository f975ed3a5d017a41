"""Remote-tracking refs, ``.coral/refs/remotes/<remote>/<branch>``: where each remote branch
was when this repository last pushed to or pulled from it. They answer "ahead/behind" without
asking the remote, resolve as ``origin/main``, and keep what they point at reachable."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from coral.errors import InvalidNameError, RefExistsError, RepositoryFormatError
from coral.records.commit import is_commit_hash
from coral.records.refnames import check_ref_name
from coral.storage.fsutil import atomic_write_json, read_json


def check_remote_name(name: object) -> str:
    """A remote's name: a valid ref name without '/' (it is a folder under refs/remotes)."""
    checked = check_ref_name(name, "remote")
    if "/" in checked:
        raise InvalidNameError(f"invalid remote name {checked!r}: it contains '/'")
    return checked


class TrackingRefs:
    def __init__(self, coral_dir: Path, tmp_dir: Path) -> None:
        self.root = coral_dir / "refs" / "remotes"
        self._tmp_dir = tmp_dir

    def _path(self, remote: str, branch: str) -> Path:
        return self.root.joinpath(check_remote_name(remote), *check_ref_name(branch).split("/"))

    def get(self, remote: str, branch: str) -> str | None:
        path = self._path(remote, branch)
        try:
            commit_hash = read_json(path).get("commit_hash")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except (ValueError, AttributeError) as err:
            raise RepositoryFormatError(f"remote-tracking ref {path} is unreadable: {err}") from err
        if not isinstance(commit_hash, str) or not is_commit_hash(commit_hash):
            raise RepositoryFormatError(f"remote-tracking ref {path} holds no commit hash")
        return commit_hash

    def all(self, remote: str) -> dict[str, str]:
        """``{branch: commit_hash}`` for one remote."""
        base = self.root / check_remote_name(remote)
        out: dict[str, str] = {}
        for folder, _, files in os.walk(base):
            for name in files:
                if name.startswith("."):
                    continue  # a temp file of an interrupted write
                branch = "/".join((Path(folder) / name).relative_to(base).parts)
                try:
                    commit_hash = self.get(remote, branch)
                except InvalidNameError:
                    continue
                if commit_hash is not None:
                    out[branch] = commit_hash
        return dict(sorted(out.items()))

    def every_ref(self) -> dict[str, str]:
        """``{"remote/branch": commit_hash}`` for every remote (reachability roots)."""
        if not self.root.is_dir():
            return {}
        out: dict[str, str] = {}
        for folder in sorted(self.root.iterdir()):
            try:
                refs = self.all(folder.name)
            except InvalidNameError:
                continue  # not a folder Coral made
            out.update((f"{folder.name}/{branch}", h) for branch, h in refs.items())
        return out

    def every_commit(self) -> list[str]:
        """What every tracking ref of every remote points at."""
        return list(self.every_ref().values())

    def record(self, remote: str, branch: str, commit_hash: str) -> None:
        """Record a remote branch; :class:`RefExistsError` when another tracked name is a
        folder of it or it of another ('dev' and 'dev/x' cannot both be files)."""
        path = self._path(remote, branch)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(path, {"commit_hash": commit_hash}, tmp_dir=self._tmp_dir)
        except (FileExistsError, IsADirectoryError, NotADirectoryError):
            raise RefExistsError(
                f"cannot track {remote}/{branch}: it clashes with another branch name of "
                f"{remote!r} ('x' and 'x/y' cannot both exist)"
            ) from None

    def remove(self, remote: str, branch: str) -> None:
        path = self._path(remote, branch)
        path.unlink(missing_ok=True)
        # Empty folders left behind would block a later branch of the folder's name.
        top = self.root / check_remote_name(remote)
        for folder in path.parents:
            if folder == top or top not in folder.parents:
                break
            try:
                folder.rmdir()
            except OSError:
                break  # not empty

    def keep_only(self, remote: str, branches: set[str]) -> None:
        """Forget the remote's branches that are no longer there (deleted on the remote)."""
        for name in set(self.all(remote)) - branches:
            self.remove(remote, name)

    def drop_remote(self, remote: str) -> None:
        shutil.rmtree(self.root / check_remote_name(remote), ignore_errors=True)
