"""Where a clone goes, and removing what a failed clone created (as git does)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from coral.errors import RemoteError
from coral.remote.url import parse_remote_url


class _Closable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True)
class CloneTarget:
    """The folder a clone is made in, and the first folder the clone creates (the one a
    failed clone removes; None when ``path`` exists already)."""

    path: Path
    created: Path | None

    @contextmanager
    def removed_on_error(self, repo: _Closable) -> Iterator[None]:
        """Remove what the clone created if the block fails (only that)."""
        try:
            yield
        except BaseException:
            repo.close()
            shutil.rmtree(self.created or self.path / ".coral", ignore_errors=True)
            raise


def prepare_clone(url: str, path: str | Path) -> CloneTarget:
    """Check ``url`` (a bad URL fails before anything is created) and ``path`` (it must not
    hold a repository already)."""
    parse_remote_url(url)
    target = Path(path).absolute()
    if (target / ".coral").exists():
        raise RemoteError(f"{target} already holds a Coral repository; clone elsewhere")
    created = next((p for p in [*reversed(target.parents), target] if not p.exists()), None)
    return CloneTarget(target, created)
