"""Building the object store a repository's configuration asks for."""

from __future__ import annotations

from coral.delta import DeltaEncoder
from coral.records.config import PREDICTORS_FOR, Config
from coral.records.layout import RepoLayout
from coral.storage.codecs import RAW, SHUFFLE_ZSTD
from coral.storage.gc_lock import GcLock
from coral.storage.locking import RepositoryLock
from coral.storage.pack_store import PackStore


def open_store(layout: RepoLayout, config: Config, lock: RepositoryLock) -> PackStore:
    """The repository's object store, configured from ``config.json``."""
    codec = SHUFFLE_ZSTD if config.get("core.compression") == "zstd" else RAW
    store = PackStore(
        layout.packs_dir,
        layout.tmp_dir,
        codec=codec,
        cache_bytes=int(config.get("core.delta_cache_mb")) << 20,
        gc_lock=GcLock(layout.gc_lock_file, lock.timeout, outer=lock),
    )
    if config.get("core.delta_encoding"):
        delta_type = config.get("core.delta_type")
        store.delta_policy = DeltaEncoder(
            info=store.info,
            load=store.read_shared,
            max_depth=int(config.get("core.max_delta_depth")),
            predictors=PREDICTORS_FOR[delta_type],
        )
    return store
