"""Content-addressed tensor storage: codecs, the store interface, HDF5 packs, durable writes."""

from coral.storage.codecs import RAW, SHUFFLE_ZSTD, Codec, get_codec
from coral.storage.pack_store import PackStore
from coral.storage.store import MemoryStore, ObjectInfo, ObjectWriter, TensorStore

__all__ = [
    "RAW",
    "SHUFFLE_ZSTD",
    "Codec",
    "MemoryStore",
    "ObjectInfo",
    "ObjectWriter",
    "PackStore",
    "TensorStore",
    "get_codec",
]
