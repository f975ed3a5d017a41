"""Building the object store a repository's configuration asks for, on disk or in memory.

Importing :mod:`coral.delta` here also registers the delta codecs with the storage layer's
codec registry, so every store built here reads delta objects, even with
``core.delta_encoding`` off (another writer or a pull may have stored some).
"""

from __future__ import annotations

from coral.delta import DeltaEncoder
from coral.records.config import PREDICTORS_FOR, Config
from coral.records.layout import RepoLayout
from coral.storage.codecs import RAW, SHUFFLE_ZSTD, Codec
from coral.storage.gc_lock import GcLock
from coral.storage.locking import RepositoryLock
from coral.storage.memory_store import MemoryStore
from coral.storage.pack_store import PackStore
from coral.storage.store import TensorStore


def open_store(layout: RepoLayout, config: Config, lock: RepositoryLock) -> PackStore:
    """The repository's object store, configured from ``config.json``."""
    store = PackStore(
        layout.packs_dir,
        layout.tmp_dir,
        codec=_codec(config),
        cache_bytes=_cache_bytes(config),
        gc_lock=GcLock(layout.gc_lock_file, lock.timeout, outer=lock),
    )
    configure_store(store, config)
    return store


def memory_store(config: Config) -> MemoryStore:
    """An object store in memory, configured as :func:`open_store` configures one on disk."""
    store = MemoryStore(codec=_codec(config), cache_bytes=_cache_bytes(config))
    configure_store(store, config)
    return store


def configure_store(store: TensorStore, config: Config) -> None:
    """Apply the configuration's codec and delta encoding to ``store``'s new objects (what
    opening a repository does; a repository in memory, never reopened, calls it to take up a
    changed ``core.compression`` or ``core.delta_*``)."""
    store.codec = _codec(config)
    _set_delta_policy(store, config)


def _codec(config: Config) -> Codec:
    return SHUFFLE_ZSTD if config.get("core.compression") == "zstd" else RAW


def _cache_bytes(config: Config) -> int:
    return int(config.get("core.delta_cache_mb")) << 20


def _set_delta_policy(store: TensorStore, config: Config) -> None:
    store.delta_policy = None
    if config.get("core.delta_encoding"):
        store.delta_policy = DeltaEncoder(
            info=store.info,
            load=store.read_shared,
            max_depth=int(config.get("core.max_delta_depth")),
            predictors=PREDICTORS_FOR[config.get("core.delta_type")],
        )
