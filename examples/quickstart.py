"""Coral in two minutes: train, commit, branch, compare, tag, restore, check.

Run: python examples/quickstart.py [REPO_DIR]   (default: a fresh temporary directory)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from coral.integrations.pytorch import load_into_model, pytorch_to_coral
from coral.version_control import Repository


def make_data(n: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 16, generator=generator)
    y = (x[:, :4].sum(dim=1) > 0).long()
    return x, y


def train(model: nn.Module, lr: float, epochs: int) -> float:
    x, y = make_data()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return float(loss.detach())


def accuracy(model: nn.Module) -> float:
    x, y = make_data()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="coral-"))
    repo = Repository(root, init=True)
    print(f"repository: {repo.coral_dir}\n")

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 2))

    # Train and commit a baseline on main.
    loss = train(model, lr=1e-3, epochs=20)
    repo.stage_weights(pytorch_to_coral(model))
    baseline = repo.commit(f"baseline: lr=1e-3, loss={loss:.3f}", tags=["baseline"])
    baseline_state = {k: v.clone() for k, v in model.state_dict().items()}

    # Try a higher learning rate on a branch.
    repo.create_branch("experiment-lr")
    repo.checkout("experiment-lr")
    loss = train(model, lr=1e-2, epochs=20)
    repo.stage_weights(pytorch_to_coral(model))
    experiment = repo.commit(f"lr=1e-2, loss={loss:.3f}")
    repo.tag_version("best", "higher learning rate wins", {"accuracy": accuracy(model)})

    print(repo.status(), "\n")
    for commit in repo.log(branch="experiment-lr"):
        print(f"{commit.short_hash}  {commit.metadata.message}")

    diff = repo.diff(baseline.commit_hash, experiment.commit_hash, stats=True)
    print(f"\n{diff['summary']['total_modified']} tensors changed between baseline and experiment:")
    for name, change in diff["modified"].items():
        stats = change["stats"]
        print(
            f"  {name:10s} relative change {stats['relative_l2']:.3f}  "
            f"cosine {stats['cosine_similarity']:.4f}  changed {stats['fraction_changed']:.0%}"
        )

    # Restore the baseline into the live model, bit for bit.
    load_into_model(model, repo.get_all_weights(baseline.commit_hash))
    restored = all(torch.equal(model.state_dict()[k], v) for k, v in baseline_state.items())
    print(f"\nbaseline restored bit-exactly: {restored}")

    best = repo.get_version("best")
    print(f"tag 'best' -> {best.commit_hash[:8]} metrics {best.metrics}")
    print(repo.fsck())


if __name__ == "__main__":
    main()
