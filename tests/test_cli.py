"""The ``coral`` command end to end, in subprocesses on temporary repositories: every
command, its output, its exit code (git's: 0, 1 for a failed operation, 128 without a
repository, 129 for bad usage)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

from coral.integrations.safetensors import load_safetensors, save_safetensors
from coral.version_control import Repository
from tests.helpers import assert_bit_exact, tiny_bert


def coral(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "coral.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == code, (args, done.returncode, done.stdout, done.stderr)
    return done


@pytest.fixture
def files(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    save_safetensors(
        {
            "enc.weight": rng.standard_normal((8, 4)).astype(np.float32),
            "enc.bias": np.zeros(4, ml_dtypes.bfloat16),
        },
        tmp_path / "epoch0.safetensors",
    )
    save_safetensors(
        {"enc.weight": rng.standard_normal((8, 4)).astype(np.float32)},
        tmp_path / "epoch1.safetensors",
    )
    return tmp_path


def test_a_session_from_init_to_export(files: Path) -> None:
    work = files
    assert "Initialized empty Coral repository" in coral(work, "init").stdout
    assert "staged 2 weight(s)" in coral(work, "add", "epoch0.safetensors").stdout
    assert "new:" in coral(work, "status").stdout
    out = coral(work, "commit", "-m", "epoch 0", "--metric", "loss=1.5").stdout
    assert out.startswith("[main ") and "epoch 0" in out
    assert "Switched to branch 'exp'" in coral(work, "checkout", "-b", "exp").stdout
    coral(work, "add", "epoch1.safetensors")
    coral(work, "commit", "-m", "epoch 1")
    log = coral(work, "log", "--oneline", "--graph", "--all").stdout.splitlines()
    assert log[0].startswith("* ") and "(HEAD -> exp)" in log[0] and "epoch 1" in log[0]
    assert "(main)" in log[1]
    long = coral(work, "log", "-n", "1").stdout
    assert long.startswith("commit ") and "Author:" in long and "    epoch 1" in long
    diff = coral(work, "diff", "main", "exp", "--stats").stdout
    assert "M  enc.weight" in diff and "1 modified" in diff
    assert "epoch 1" in coral(work, "show").stdout
    coral(work, "tag", "v1", "-m", "best so far", "--metric", "acc=0.9")
    assert "v1" in coral(work, "versions").stdout and "acc=0.9" in coral(work, "versions").stdout
    coral(work, "checkout", "main")
    assert "Fast-forward" in coral(work, "merge", "exp", "--dry-run").stdout
    coral(work, "merge", "exp")
    branches = coral(work, "branch").stdout
    assert "* main" in branches and "  exp" in branches
    coral(work, "branch", "old", "HEAD~1")
    assert "Deleted branch old" in coral(work, "branch", "-D", "old").stdout
    dry = coral(work, "gc", "--dry-run", "--prune=now").stdout
    assert "gc would remove 0 objects" in dry and "branch main" in dry
    assert "packs: " in coral(work, "gc", "--prune=now").stdout
    assert "not a grace period" in coral(work, "gc", "--prune=soon", code=1).stderr
    coral(work, "export", "v1", "-o", "out.safetensors")
    exported = load_safetensors(work / "out.safetensors")
    repo = Repository(work)
    for name, weight in repo.get_all_weights("v1").items():
        assert_bit_exact(exported[name], weight.data)
    st = pytest.importorskip("safetensors.numpy")
    assert_bit_exact(
        st.load_file(str(work / "out.safetensors"))["enc.weight"], exported["enc.weight"]
    )
    assert "OK" in coral(work, "fsck").stdout


def test_merges_with_every_strategy_option(files: Path) -> None:
    work = files
    coral(work, "init")
    coral(work, "add", "epoch0.safetensors")
    coral(work, "commit", "-m", "base")
    coral(work, "checkout", "-b", "a")
    coral(work, "add", "epoch1.safetensors")
    coral(work, "commit", "-m", "a")
    coral(work, "checkout", "main")
    coral(work, "add", "--prefix", "", "epoch1.safetensors")
    repo = Repository(work)
    repo.stage_weights({"enc.weight": np.ones((8, 4), np.float32)})
    repo.commit("main side")
    plan = coral(work, "merge", "a", "-s", "ties", "--param", "density=0.5", "--dry-run").stdout
    assert "enc.weight" in plan
    coral(work, "merge", "a", "-s", "weighted", "--alpha", "0.25", "-m", "blend")
    assert Repository(work).get_commit("HEAD").metadata.message == "blend"
    coral(work, "merge", "a", "-s", "nonsense", code=129)


def test_exit_codes_and_messages_follow_git(tmp_path: Path) -> None:
    done = coral(tmp_path, "status", code=128)
    assert done.stderr.startswith("fatal: not a coral repository") and "coral init" in done.stderr
    assert coral(tmp_path, "nosuch", code=129).stderr.count("error:") == 1
    coral(tmp_path, code=129)
    coral(tmp_path, "init")
    assert coral(tmp_path, "checkout", "nope", code=1).stderr.startswith("error: ")
    assert "give the branch, tag or commit" in coral(tmp_path, "checkout", code=129).stderr
    assert coral(tmp_path, "add", "missing.safetensors", code=1).stderr.startswith("error: ")
    assert "no .safetensors" in coral(tmp_path, "add", ".", code=1).stderr
    assert "usage: coral merge" in coral(tmp_path, "merge", "--help").stdout
    assert coral(tmp_path, "--version").stdout.startswith("coral ")
    other = tmp_path / "elsewhere"
    other.mkdir()
    assert "On branch main" in coral(other, "-C", str(tmp_path), "status").stdout


def test_tag_d_deletes_and_m_describes_as_in_git(files: Path) -> None:
    work = files
    coral(work, "init")
    coral(work, "add", "epoch0.safetensors")
    coral(work, "commit", "-m", "epoch 0")
    coral(work, "tag", "v1", "-m", "best so far")
    coral(work, "tag", "v2", "HEAD", "--message", "same commit")
    coral(work, "tag", "v3", "--description", "the old spelling")
    repo = Repository(work)
    assert {v.name: v.description for v in repo.list_versions()} == {
        "v1": "best so far",
        "v2": "same commit",
        "v3": "the old spelling",
    }
    refused = coral(work, "tag", "v1", "-d", "a description", code=129)
    assert "a tag's description is -m/--message" in refused.stderr
    assert "usage: coral tag" in refused.stderr
    assert "v1" in {v.name for v in Repository(work).list_versions()}
    assert "Deleted tag 'v1'" in coral(work, "tag", "-d", "v1").stdout
    assert "Deleted tag 'v2'" in coral(work, "tag", "v2", "--delete").stdout
    assert [v.name for v in Repository(work).list_versions()] == ["v3"]


def test_every_subcommand_of_the_table_has_a_cli_handler() -> None:
    from coral.cli.app import HANDLERS
    from coral.cli.spec import Frontend, commands_for

    assert [c.name for c in commands_for(Frontend.CLI)] == list(HANDLERS)


def test_pytorch_checkpoints_load_safely_and_pickles_never_run(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    coral(tmp_path, "init")
    model = torch.nn.Linear(3, 2)
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    done = coral(tmp_path, "add", "--key", "state_dict", "ckpt.pt")
    assert "staged 2 weight(s)" in done.stdout
    flat = coral(tmp_path, "add", "ckpt.pt")
    assert "staged 2 weight(s)" in flat.stdout and "'epoch' is not a tensor" in flat.stderr
    marker = tmp_path / "pwned"
    evil = f"""
import os, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))
torch.save({{"w": torch.zeros(2), "x": Evil()}}, "{tmp_path / "evil.pt"}")
"""
    subprocess.run([sys.executable, "-c", evil], check=True)
    refused = coral(tmp_path, "add", "evil.pt", code=1)
    assert "never unpickles" in refused.stderr
    assert not marker.exists()


def test_remotes_from_the_command_line(files: Path) -> None:
    work = files / "work"
    work.mkdir()
    coral(work, "init")
    coral(work, "add", "../epoch0.safetensors")
    coral(work, "commit", "-m", "shared")
    coral(work, "remote", "add", "origin", f"file://{files / 'remote'}")
    assert "origin\tfile://" in coral(work, "remote", "-v").stdout
    assert "weight object(s) pushed" in coral(work, "push").stdout
    coral(files, "clone", f"file://{files / 'remote'}", "copy")
    assert Repository(files / "copy").resolve_ref("main") == Repository(work).resolve_ref("main")
    assert "0 weight object(s) pulled" in coral(files / "copy", "pull").stdout


def test_blame_reflog_reset_and_stats(files: Path) -> None:
    work = files
    coral(work, "init")
    coral(work, "add", "epoch0.safetensors")
    coral(work, "commit", "-m", "epoch 0")
    coral(work, "add", "--partial", "epoch1.safetensors")  # a file of the changed layer only
    coral(work, "commit", "-m", "epoch 1")
    blamed = coral(work, "blame").stdout.splitlines()
    assert any("enc.weight" in line and "epoch 1" in line for line in blamed)
    assert any("enc.bias" in line and "added" in line for line in blamed)
    reflog = coral(work, "reflog", "main").stdout.splitlines()
    assert "main@{0}: commit: epoch 1" in reflog[0]
    assert "HEAD is now at" in coral(work, "reset", "main@{1}").stdout
    assert Repository(work).get_commit("HEAD").metadata.message == "epoch 0"
    assert "as full checkpoints" in coral(work, "stats").stdout


def test_adding_a_smaller_checkpoint_commits_without_the_missing_weights(files: Path) -> None:
    work = files
    coral(work, "init")
    coral(work, "add", "epoch0.safetensors")
    coral(work, "commit", "-m", "epoch 0")
    coral(work, "add", "epoch1.safetensors")
    assert "the next commit removes 1 weight: enc.bias" in coral(work, "status").stdout
    coral(work, "commit", "-m", "epoch 1")
    assert sorted(Repository(work).get_all_weights()) == ["enc.weight"]


def test_bisect_runs_a_command_per_candidate(tmp_path: Path) -> None:
    coral(tmp_path, "init")
    repo = Repository(tmp_path)
    for i in range(10):
        loss = np.array([0.1 if i < 6 else 9.0], np.float32)
        repo.stage_weights({"loss": loss, "step": np.array([i])})
        repo.commit(f"step {i}")
    script = tmp_path / "eval.py"
    script.write_text(
        "import os, sys\n"
        "from coral.version_control import Repository\n"
        "repo = Repository(os.environ['CORAL_REPO'])\n"
        "loss = repo.get_weight('loss', os.environ['CORAL_BISECT_COMMIT']).data[0]\n"
        "sys.exit(0 if loss < 1 else 1)\n"
    )
    done = coral(tmp_path, "bisect", "HEAD~9", "HEAD", "--", sys.executable, str(script))
    first_bad = repo.log()[3]  # step 6
    assert f"{first_bad.commit_hash} is the first bad commit" in done.stdout
    coral(tmp_path, "bisect", "HEAD~9", "HEAD", code=1)  # no command given


def test_demo_builds_a_repository_to_explore(tmp_path: Path) -> None:
    done = coral(tmp_path, "demo", "play")
    assert "Built a demo repository" in done.stdout and "coral log" in done.stdout
    repo = Repository(tmp_path / "play")
    assert len(repo.version_graph.commits()) == 11
    assert {b.name for b in repo.branch_manager.list_branches()} == {"main", "high-lr"}
    assert repo.get_commit("main").is_merge_commit
    tags = {v.name: v for v in repo.list_versions()}
    assert set(tags) == {"baseline", "best"}
    assert tags["best"].metrics["accuracy"] >= tags["baseline"].metrics["accuracy"]
    graph = coral(tmp_path / "play", "log", "--oneline", "--graph", "--all").stdout
    assert "\x1b[" not in graph  # no colours when the output is not a terminal
    assert repo.fsck().ok
    coral(tmp_path, "demo", "play", code=1)  # not over an existing repository


def test_colours_on_a_terminal_only(tmp_path: Path) -> None:
    import os
    import pty

    coral(tmp_path, "demo", "play")
    leader, follower = pty.openpty()
    done = subprocess.run(
        [sys.executable, "-m", "coral.cli", "log", "--oneline"],
        cwd=tmp_path / "play",
        stdout=follower,
        stderr=subprocess.PIPE,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "NO_COLOR"},
    )
    os.close(follower)
    shown = os.read(leader, 1 << 16).decode()
    os.close(leader)
    assert done.returncode == 0 and "\x1b[33m" in shown


def test_an_export_loads_in_transformers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_bert(tmp_path / "original", monkeypatch)
    import torch
    import transformers

    coral(tmp_path, "init")
    coral(tmp_path, "add", "original/model.safetensors")
    coral(tmp_path, "commit", "-m", "tiny bert")
    (tmp_path / "exported").mkdir()
    (tmp_path / "exported" / "config.json").write_text(
        (tmp_path / "original" / "config.json").read_text()
    )
    coral(tmp_path, "export", "HEAD", "-o", "exported/model.safetensors")
    loaded = transformers.BertModel.from_pretrained(tmp_path / "exported").eval()
    ids = torch.tensor([[1, 5, 7, 2]])
    with torch.no_grad():
        expected = model(ids).last_hidden_state
        actual = loaded(ids).last_hidden_state
    assert torch.equal(expected, actual)
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name


def test_model_folders_from_the_command_line(tmp_path: Path) -> None:
    from coral.integrations.folders import read_model_folder, write_model_folder

    write_model_folder(
        tmp_path / "model",
        {"w": np.arange(6, dtype=np.float32)},
        {"config.json": b'{"a": 1}'},
    )
    coral(tmp_path, "init")
    assert "1 weight(s) and 1 file(s)" in coral(tmp_path, "add", "model").stdout
    coral(tmp_path, "commit", "-m", "folder")
    assert "to out/" in coral(tmp_path, "export", "-o", "out/").stdout
    back = read_model_folder(tmp_path / "out")
    assert back.files == {"config.json": b'{"a": 1}'}
    assert_bit_exact(back.weights["w"], np.arange(6, dtype=np.float32))
