"""Content-addressed tensor storage: codecs, the store interface, HDF5 packs, durable writes."""

from coral.storage.array_cache import ArrayCache
from coral.storage.codecs import RAW, SHUFFLE_ZSTD, Codec, Encoded, get_codec, register_codec
from coral.storage.memory_store import MemoryStore
from coral.storage.objects import DeltaPolicy, Encoding, ObjectInfo, WriteRequest
from coral.storage.pack_store import PackStore
from coral.storage.store import ObjectWriter, TensorStore

__all__ = [
    "RAW",
    "SHUFFLE_ZSTD",
    "ArrayCache",
    "Codec",
    "DeltaPolicy",
    "Encoded",
    "Encoding",
    "MemoryStore",
    "ObjectInfo",
    "ObjectWriter",
    "PackStore",
    "TensorStore",
    "WriteRequest",
    "get_codec",
    "register_codec",
]
