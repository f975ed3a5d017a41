"""``coral demo``: a small repository with a real (NumPy) training run to explore: epochs
committed with their metrics, a branch with another learning rate, a merge of the two, tags.
Takes a few seconds; needs nothing beyond Coral itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coral.errors import InvalidValueError
from coral.version_control import Repository

Params = dict[str, np.ndarray]


def _data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half-moons: a problem a small MLP learns in a few epochs."""
    n = 400
    angle = rng.uniform(0, np.pi, n)
    upper = np.stack([np.cos(angle), np.sin(angle)], 1)
    lower = np.stack([1 - np.cos(angle), 0.5 - np.sin(angle)], 1)
    x = np.concatenate([upper, lower]) + rng.normal(0, 0.1, (2 * n, 2))
    y = np.concatenate([np.zeros(n), np.ones(n)])
    return x.astype(np.float32), y.astype(np.float32)


def _forward(p: Params, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.tanh(x @ p["mlp.0.weight"].T + p["mlp.0.bias"])
    logits = hidden @ p["mlp.2.weight"].T + p["mlp.2.bias"]
    return hidden, 1 / (1 + np.exp(-logits[:, 0]))


def _evaluate(p: Params, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    _, prob = _forward(p, x)
    eps = 1e-7
    loss = -np.mean(y * np.log(prob + eps) + (1 - y) * np.log(1 - prob + eps))
    return {"loss": round(float(loss), 4), "accuracy": round(float(np.mean((prob > 0.5) == y)), 4)}


def _epoch(p: Params, x: np.ndarray, y: np.ndarray, lr: float, steps: int = 50) -> Params:
    """Full-batch gradient descent on the cross-entropy (hand-written backward pass)."""
    p = {k: v.copy() for k, v in p.items()}
    for _ in range(steps):
        hidden, prob = _forward(p, x)
        d_logits = ((prob - y) / len(y))[:, None].astype(np.float32)
        d_hidden = (d_logits @ p["mlp.2.weight"]) * (1 - hidden**2)
        p["mlp.2.weight"] -= lr * (d_logits.T @ hidden)
        p["mlp.2.bias"] -= lr * d_logits.sum(0)
        p["mlp.0.weight"] -= lr * (d_hidden.T @ x)
        p["mlp.0.bias"] -= lr * d_hidden.sum(0)
    return p


def build_demo(path: Path) -> Repository:
    if (path / ".coral").exists():
        raise InvalidValueError(f"{path} already holds a Coral repository; pick another folder")
    rng = np.random.default_rng(0)
    x, y = _data(rng)
    repo = Repository(path, init=True)
    params: Params = {
        "mlp.0.weight": (rng.standard_normal((32, 2)) * 0.5).astype(np.float32),
        "mlp.0.bias": np.zeros(32, np.float32),
        "mlp.2.weight": (rng.standard_normal((1, 32)) * 0.5).astype(np.float32),
        "mlp.2.bias": np.zeros(1, np.float32),
    }
    repo.stage_weights(params)
    repo.commit("init: a 2-32-1 MLP for two moons", metrics=_evaluate(params, x, y))
    for epoch in range(1, 4):
        params = _epoch(params, x, y, lr=0.5)
        repo.stage_weights(params)
        repo.commit(f"epoch {epoch} (lr 0.5)", metrics=_evaluate(params, x, y))
    repo.tag_version("baseline", "three epochs at lr 0.5", _evaluate(params, x, y))
    repo.create_branch("high-lr")
    repo.checkout("high-lr")
    fast = params
    for epoch in range(4, 7):
        fast = _epoch(fast, x, y, lr=2.0)
        repo.stage_weights(fast)
        repo.commit(f"epoch {epoch} (lr 2.0)", metrics=_evaluate(fast, x, y))
    repo.checkout("main")
    for epoch in range(4, 7):
        params = _epoch(params, x, y, lr=0.5)
        repo.stage_weights(params)
        repo.commit(f"epoch {epoch} (lr 0.5)", metrics=_evaluate(params, x, y))
    merged = repo.merge("high-lr", strategy="average", message="merge high-lr: average the runs")
    blend = {k: w.data for k, w in repo.get_all_weights(merged.commit_hash).items()}
    scores = {"main": _evaluate(params, x, y), "high-lr": _evaluate(fast, x, y)}
    scores["merge"] = _evaluate(blend, x, y)
    best = max(scores, key=lambda k: scores[k]["accuracy"])
    repo.tag_version(
        "best",
        f"the most accurate: {best}",
        scores[best],
        best if best != "merge" else merged.commit_hash,
    )
    return repo
