"""Where everything lives under ``.coral/``, and creating or finding that directory.

::

    .coral/
      config.json   HEAD   remotes.json   lock   objects/gc.lock
      refs/heads/<branch>            objects/commits/<hash>.json
      objects/packs/pack-<id>.h5 (+ .idx.json)
      staging/staged.json   versions/<version_id>.json   logs/ (reflog)   tmp/
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from coral.errors import NotARepositoryError, RepositoryFormatError
from coral.records.backend import DiskRecords
from coral.records.initial import create_records
from coral.records.keys import DEFAULT_BRANCH
from coral.storage.fsutil import fsync_dir

__all__ = ["CORAL_DIR", "DEFAULT_BRANCH", "RepoLayout"]

CORAL_DIR = ".coral"


@dataclass(frozen=True)
class RepoLayout:
    """Where an on-disk repository's files are, under ``root/.coral``."""

    root: Path

    @property
    def coral_dir(self) -> Path:
        return self.root / CORAL_DIR

    @property
    def config_file(self) -> Path:
        return self.coral_dir / "config.json"

    @property
    def head_file(self) -> Path:
        return self.coral_dir / "HEAD"

    @property
    def remotes_file(self) -> Path:
        return self.coral_dir / "remotes.json"

    @property
    def lock_file(self) -> Path:
        return self.coral_dir / "lock"

    @property
    def gc_lock_file(self) -> Path:
        return self.coral_dir / "objects" / "gc.lock"

    @property
    def commits_dir(self) -> Path:
        return self.coral_dir / "objects" / "commits"

    @property
    def packs_dir(self) -> Path:
        return self.coral_dir / "objects" / "packs"

    @property
    def staging_file(self) -> Path:
        return self.coral_dir / "staging" / "staged.json"

    @property
    def versions_dir(self) -> Path:
        return self.coral_dir / "versions"

    @property
    def logs_dir(self) -> Path:
        return self.coral_dir / "logs"

    @property
    def tmp_dir(self) -> Path:
        return self.coral_dir / "tmp"

    def _dirs(self) -> list[Path]:
        return [
            self.coral_dir / "refs" / "heads",
            self.commits_dir,
            self.packs_dir,
            self.staging_file.parent,
            self.versions_dir,
            self.logs_dir,
            self.tmp_dir,
        ]

    def exists(self) -> bool:
        return self.config_file.is_file() and self.head_file.is_file()

    def create(self) -> None:
        """Create a new, empty repository (HEAD on an unborn ``main``). Idempotent."""
        if self.exists():
            return
        if self.coral_dir.exists() and not self.coral_dir.is_dir():
            raise RepositoryFormatError(f"{self.coral_dir} exists and is not a directory")
        for directory in self._dirs():
            directory.mkdir(parents=True, exist_ok=True)
        create_records(DiskRecords(self.coral_dir, self.tmp_dir))
        fsync_dir(self.root)

    def ensure_dirs(self) -> None:
        """Recreate empty directories a user or a tool may have deleted."""
        for directory in self._dirs():
            directory.mkdir(parents=True, exist_ok=True)

    @classmethod
    def find(cls, start: Path) -> RepoLayout:
        """The repository containing ``start`` (``start`` itself or its nearest ancestor)."""
        start = Path(os.path.abspath(start))
        if not start.exists():
            raise NotARepositoryError(
                f"{start} does not exist; create a repository with Repository({str(start)!r}, "
                "init=True)"
            )
        for candidate in [start, *start.parents]:
            layout = cls(candidate)
            if layout.exists():
                return layout
        raise NotARepositoryError(
            f"no Coral repository at {start} or any parent directory; create one with "
            f"Repository({str(start)!r}, init=True)"
        )
