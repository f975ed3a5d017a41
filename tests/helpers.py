"""Assertions and builders shared by the tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


def assert_bit_exact(actual: np.ndarray, expected: np.ndarray) -> None:
    """Same dtype, same shape, same bytes: the only equality Coral accepts."""
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == np.ascontiguousarray(expected).tobytes()


def tiny_bert(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A two-layer BERT from ``transformers`` (skipped without it), saved with
    ``save_pretrained`` into ``folder``; nothing is downloaded."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    torch.manual_seed(0)
    model = transformers.BertModel(config).eval()
    model.save_pretrained(folder)
    return model
