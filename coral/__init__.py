"""Coral: git for neural-network weights.

The public entry points::

    from coral.version_control import Repository
    from coral.core.weight_tensor import WeightTensor, WeightMetadata
    from coral.integrations.pytorch import pytorch_to_coral
"""

from coral._version import __version__

__all__ = ["__version__"]
