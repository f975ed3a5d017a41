"""``Repository.repack`` and ``fsck``: keeping the store healthy and proving it is."""

from __future__ import annotations

from coral.delta.repack import RepackResult, repack
from coral.errors import InvalidValueError
from coral.storage.pack_store import PackStore
from coral.version_control.commit_store import CommitStore
from coral.version_control.config import Config
from coral.version_control.fsck import Fsck, FsckReport
from coral.version_control.graph import VersionGraph
from coral.version_control.layout import RepoLayout
from coral.version_control.refs import RefStore
from coral.version_control.staging import StagingArea
from coral.version_control.tracking import TrackingRefs
from coral.version_control.version import VersionStore


class MaintenanceCommands:
    """The maintenance methods of :class:`~coral.version_control.Repository` (a mixin)."""

    store: PackStore
    config: Config
    version_graph: VersionGraph
    _layout: RepoLayout
    _commits: CommitStore
    _refs: RefStore
    _versions: VersionStore
    _staging: StagingArea
    _tracking: TrackingRefs

    def repack(self, max_depth: int | None = None) -> RepackResult:
        """Rewrite in full the stored weights whose delta chains are deeper than ``max_depth``
        (default ``core.max_delta_depth``), so every read decodes a bounded number of objects.

        Returns how many objects were checked and rewritten, and the chain depths before and
        after. Superseded copies stay on disk until garbage collection.
        """
        limit = int(self.config.get("core.max_delta_depth")) if max_depth is None else max_depth
        if isinstance(limit, bool) or limit < 0:
            raise InvalidValueError(f"max_depth must be a non-negative int, got {max_depth!r}")
        needed = {
            oid for c in self.version_graph.commits().values() for oid in c.weight_hashes.values()
        }
        needed |= {w.object_id for w in self._staging.read().weights.values()}
        return repack(self.store, sorted(needed), limit)

    def fsck(self, *, verify_objects: bool = True) -> FsckReport:
        """Check everything: re-hash every object, follow every commit, ref, tag and staged entry.

        Returns a report; ``report.ok`` is False when anything is damaged, and each problem
        names the object, commit or ref concerned.
        """
        return Fsck(
            self._layout,
            self.config,
            self.store,
            self._commits,
            self._refs,
            self._versions,
            self._staging,
            self._tracking,
        ).run(verify_objects)
