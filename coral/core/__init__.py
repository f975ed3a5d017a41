"""Tensors and their identity: the bottom layer, with no knowledge of storage or history."""

from coral.core.weight_tensor import WeightMetadata, WeightTensor

__all__ = ["WeightMetadata", "WeightTensor"]
