"""Committing from inside a training loop: :class:`Checkpointer`."""

from coral.training.checkpointer import Checkpointer

__all__ = ["Checkpointer"]
