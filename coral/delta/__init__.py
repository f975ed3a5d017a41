"""Lossless delta encoding: store a new version of a weight as its difference from old ones.

Importing this package registers the delta codecs with the storage layer's codec registry.
"""

from coral.delta.codecs import SPARSE, ZIGZAG, SparseDeltaCodec, ZigzagDeltaCodec
from coral.delta.encoder import DeltaEncoder

__all__ = ["SPARSE", "ZIGZAG", "DeltaEncoder", "SparseDeltaCodec", "ZigzagDeltaCodec"]
