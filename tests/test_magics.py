"""The %coral magics through a real IPython shell: every subcommand, every error path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from coral.version_control import Commit, CommitView, MergePlan, Repository, Status, Version
from coral_jupyter.display import CommitOutcome, LogView, MergeOutcome, Notice
from tests.helpers import assert_bit_exact
from tests.jupyter_helpers import Shell

torch = pytest.importorskip("torch")


@pytest.fixture
def shell(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Shell]:
    monkeypatch.chdir(tmp_path)
    sh = Shell()
    yield sh
    sh.ip.reset()


@pytest.fixture
def project(shell: Shell) -> Shell:
    """A repository with a torch model committed on main."""
    shell.run("%coral init .")
    shell.run(
        "import numpy as np, torch\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))"
    )
    shell.run('%coral commit -m "epoch 0" model')
    return shell


def _state(repo: Repository) -> tuple[object, ...]:
    return (
        repo.head,
        {b.name: b.commit_hash for b in repo.branch_manager.list_branches()},
        sorted(v.name for v in repo.list_versions()),
        len(repo.version_graph.commits()),
        repo.status(),
    )


def test_without_a_repository_the_error_says_how_to_make_one(shell: Shell) -> None:
    assert "%coral init" in shell.usage_error("%coral status")


def test_init_open_and_discovery_of_the_enclosing_repository(
    shell: Shell, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = shell.run("%coral init proj")
    assert "Coral repository" in repr(summary) and "0 commits" in repr(summary)
    shell.html(summary)
    (tmp_path / "proj" / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "proj" / "sub")
    other = Shell()  # a new kernel in a subdirectory finds the repository above it
    assert other.run("%coral status").branch == "main"
    assert other.session.repo.path == (tmp_path / "proj").resolve()
    assert "no Coral repository" in shell.usage_error(f"%coral open {tmp_path}")


def test_commit_a_module_and_read_it_back_bit_exact(project: Shell) -> None:
    repo = project.session.repo
    head = repo.get_commit()
    assert isinstance(head, Commit) and head.metadata.message == "epoch 0"
    state = project.ns["model"].state_dict()
    assert sorted(head.weight_hashes) == sorted(state)
    for name, tensor in state.items():
        assert repo.get_weight(name).data.tobytes() == tensor.numpy().tobytes()
    html = project.html(head)
    assert "epoch 0" in html


def test_add_stages_arrays_dicts_and_several_objects_with_prefixes(project: Shell) -> None:
    project.run("w = np.arange(6, dtype=np.float32)\nparams = {'a': np.ones(2), 'b': np.zeros(3)}")
    status = project.run("%coral add w")
    assert isinstance(status, Status) and status.added == ["w"]
    project.run("%coral add params model.0")  # several objects: prefixed by variable
    staged = project.session.repo.status()
    assert {"params.a", "params.b", "model.0.weight", "model.0.bias"} <= set(staged.added)
    project.html(staged)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%coral add nothere", "'nothere' is not defined in the notebook"),
        ("%coral add text", "text is a str; %coral add takes"),
        ("%coral add model.missing", "has no attribute 'missing'"),
        ("%coral commit model", "the following arguments are required: -m/--message"),
        ('%coral commit -m "x"', "nothing staged"),
        ("%coral checkout nope", "'nope' is not a branch, tag or commit"),
        ("%coral merge nope", "'nope' is not a branch, tag or commit"),
        ("%coral branch main", "already exists"),
        ("%coral branch -d main", "current branch"),
        ("%coral tag v1 --metric acc=high", "metric 'acc' must be a finite number"),
        ('%coral commit -m "x" model --metric loss=Infinity', "must be a finite number"),
        ("%coral merge main --strategy median", "invalid choice"),
        ("%coral diff", "HEAD is the first commit"),
        ("%coral log -n 0", "positive number"),
        ("%coral frobnicate", "unknown subcommand 'frobnicate'"),
        ('%coral commit -m "unclosed', "cannot parse the line"),
        ("%coral get nope", "nope"),
        ("%coral checkout", "give the branch, tag or commit to switch to"),
        ('%coral tag v1 -d "a description"', "-d/--delete deletes the tag NAME and takes no REF"),
        ("%coral tag v1 --ref HEAD", "--ref was retired; give the commit after the name"),
        ("%coral branch x --from main", "--from was retired; give the start after the name"),
        ("%coral log --graph", "--graph was retired; the notebook log always draws the graph"),
        ("%coral log --branch main", "--branch was retired; give the branch as REF"),
        ("%coral push --branch main", "--branch was retired; give the branch after the remote"),
    ],
)
def test_every_error_is_one_line_and_changes_nothing(
    project: Shell, line: str, message: str
) -> None:
    project.run("text = 'not weights'")
    before = _state(project.session.repo)
    assert message in project.usage_error(line)
    assert _state(project.session.repo) == before


def test_branch_checkout_and_log_with_graph(project: Shell) -> None:
    assert isinstance(project.run("%coral branch exp"), Notice)
    project.run("%coral checkout exp")
    project.run("with torch.no_grad(): model[0].weight.mul_(0.5)")
    project.run('%coral commit -m "halved" model')
    project.run("%coral checkout main")
    project.run("with torch.no_grad(): model[2].bias.add_(1)")
    project.run('%coral commit -m "bias <b>" model')
    branches = project.run("%coral branch")
    assert "* main" in repr(branches)
    project.html(branches)
    log = project.run("%coral log")
    assert isinstance(log, LogView) and len(log.commits) == 2
    everything = project.run("%coral log --all")  # all branches
    assert len(everything.commits) == 3 and len(project.run("%coral log --all -n 2").commits) == 2
    assert [c.metadata.message for c in project.run("%coral log exp").commits] == [
        "halved",
        "epoch 0",
    ]
    html = project.html(everything)
    assert "<svg" in html and "bias &lt;b&gt;" in html and "bias <b>" not in html
    assert len(project.run("%coral log -n 1").commits) == 1
    project.run("%coral branch -D exp")
    assert [b.name for b in project.session.repo.branch_manager.list_branches()] == ["main"]


def test_checkout_into_a_module_loads_strictly_and_refuses_mismatches(project: Shell) -> None:
    repo = project.session.repo
    first = {k: v.clone() for k, v in project.ns["model"].state_dict().items()}
    project.run("with torch.no_grad(): model[0].weight.zero_()")
    project.run('%coral commit -m "zeroed" model')
    project.run("%coral checkout HEAD~1 --into model")
    for name, tensor in project.ns["model"].state_dict().items():
        assert tensor.numpy().tobytes() == first[name].numpy().tobytes()
    assert repo.head.branch is None  # detached, as git does for a commit

    project.run("other = torch.nn.Linear(4, 5)")
    project.run("%coral checkout main")
    before = _state(repo)
    kept = project.ns["other"].weight.detach().clone()
    message = project.usage_error("%coral checkout HEAD~1 --into other")
    assert "cannot load into other" in message and "missing from the weights" in message
    assert _state(repo) == before  # HEAD did not move
    assert torch.equal(project.ns["other"].weight, kept)


def test_checkout_into_a_new_name_or_a_dict(project: Shell) -> None:
    note = project.run("%coral checkout main --into weights")
    assert "created weights" in repr(note)
    weights = project.ns["weights"]
    assert sorted(weights) == sorted(project.ns["model"].state_dict())
    project.run("weights['0.bias'] = weights['0.bias'] + 1")
    project.run("%coral checkout main --into weights")
    assert_bit_exact(
        project.ns["weights"]["0.bias"],
        project.session.repo.get_weight("0.bias").data,
    )
    project.run("bad = {'0.bias': np.zeros(7)}")
    assert "not in bad" in project.usage_error("%coral checkout main --into bad")
    assert project.ns["bad"]["0.bias"].shape == (7,)


def test_checkout_into_a_dict_refuses_a_dtype_mismatch_and_changes_nothing(
    project: Shell,
) -> None:
    project.run("with torch.no_grad(): model[0].bias.add_(1.0)")
    project.run('%coral commit -m "moved" model')
    project.run(
        "d = {k: v.detach().numpy().astype(np.float64) for k, v in model.state_dict().items()}"
    )
    kept = dict(project.ns["d"])
    before = _state(project.session.repo)
    message = project.usage_error("%coral checkout HEAD~1 --into d")
    assert (
        "cannot load into d" in message
        and "0.bias: dtype float64 in d, float32 in the commit" in message
    )
    assert _state(project.session.repo) == before  # HEAD did not move
    assert all(project.ns["d"][k] is v and v.dtype == np.float64 for k, v in kept.items())


def test_checkout_refuses_to_drop_staged_weights_unless_forced(project: Shell) -> None:
    project.run("%coral branch exp")
    project.run("extra = np.ones(3)")
    project.run("%coral add extra")
    before = _state(project.session.repo)
    assert "weights are staged" in project.usage_error("%coral checkout exp --into fresh")
    assert "fresh" not in project.ns and _state(project.session.repo) == before
    project.run("%coral checkout exp -f")
    assert project.session.repo.current_branch == "exp"


def test_merge_dry_run_strategies_params_and_overrides(project: Shell) -> None:
    project.run("%coral branch exp")
    project.run("%coral checkout exp")
    project.run("with torch.no_grad(): model[0].weight.add_(1.0); model[2].weight.add_(1.0)")
    project.run('%coral commit -m "theirs" model')
    project.run("%coral checkout main --into model")
    project.run("with torch.no_grad(): model[0].weight.add_(3.0); model[2].weight.add_(3.0)")
    project.run('%coral commit -m "ours" model')
    repo = project.session.repo
    before = _state(repo)
    plan = project.run("%coral merge exp --strategy ties --param density=1.0 --dry-run")
    assert isinstance(plan, MergeOutcome) and plan.commit is None
    assert plan.plan.conflicts == ["0.weight", "2.weight"]
    assert _state(repo) == before
    html = project.html(plan)
    assert "dry run" in html
    conflict = project.usage_error("%coral merge exp --strategy fail")
    assert "0.weight" in conflict and _state(repo) == before
    done = project.run(
        "%coral merge exp --strategy weighted --alpha 0.25 --override 2.*=theirs -m 'blend'"
    )
    assert done.commit is not None and done.commit.is_merge_commit
    record = done.commit.metadata.extra["merge"]
    assert record["params"] == {"merge_alpha": 0.25}
    assert record["overrides"] == {"2.*": {"strategy": "theirs"}}
    project.html(done)
    assert isinstance(project.run("%coral show"), CommitView)
    project.html(project.run("%coral show"))


def test_tags_versions_diff_get_and_fsck(project: Shell) -> None:
    version = project.run('%coral tag v1 -m "first <try>" --metric acc=0.9 --metric loss=0.3')
    assert isinstance(version, Version) and version.metrics == {"acc": 0.9, "loss": 0.3}
    assert "first &lt;try&gt;" in project.html(version)
    project.run("with torch.no_grad(): model[0].bias.add_(1.0)")
    project.run('%coral commit -m "bias" model')
    diff = project.run("%coral diff --stats")
    assert diff.diff["modified"].keys() == {"0.bias"}
    assert "relative change" in project.html(diff)
    assert project.run("%coral diff v1").diff["summary"]["total_modified"] == 1
    assert "v1" in repr(project.run("%coral versions"))
    project.html(project.run("%coral versions"))
    weight = project.run("%coral get 0.bias v1")
    assert weight.shape == (3,)
    assert "ok" in repr(project.run("%coral fsck --quick")).lower()
    assert "would remove 0 objects" in repr(project.run("%coral gc -n --prune=now"))
    project.run("%coral tag v1 --delete")
    assert project.session.repo.list_versions() == []


def test_tag_d_deletes_and_m_describes_as_in_git(project: Shell) -> None:
    repo = project.session.repo
    project.run('%coral tag v1 -m "first try" --metric acc=0.5')
    project.run("%coral branch exp")
    project.run('%coral tag v2 exp --description "the old spelling"')
    assert {v.name: v.description for v in repo.list_versions()} == {
        "v1": "first try",
        "v2": "the old spelling",
    }
    before = _state(repo)
    message = project.usage_error('%coral tag v1 -d "first try"')
    assert "a tag's description is -m/--message" in message and _state(repo) == before
    assert "Deleted tag v1" in repr(project.run("%coral tag -d v1"))
    assert [v.name for v in repo.list_versions()] == ["v2"]


def test_a_flag_means_the_same_in_the_command_line_and_the_magics() -> None:
    from coral.cli.app import build_parser
    from coral.cli.spec import RetiredFlag
    from coral_jupyter.parser import PARSERS

    _, cli = build_parser()
    shared = cli.keys() & PARSERS.keys()
    assert {"tag", "branch", "log", "checkout", "push", "merge", "gc"} <= shared

    def options(parser: object) -> dict[str, tuple[object, ...]]:
        return {
            flag: (a.dest, type(a), a.nargs, a.const, a.choices, a.type)
            for a in parser._actions  # type: ignore[attr-defined]
            for flag in a.option_strings
            if flag not in ("-h", "--help") and not isinstance(a, RetiredFlag)
        }

    for name in sorted(shared):
        ours, theirs = options(cli[name]), options(PARSERS[name])
        for flag in ours.keys() & theirs.keys():
            assert ours[flag] == theirs[flag], (name, flag)


def test_every_subcommand_of_the_table_has_a_magic_handler() -> None:
    from coral.cli.spec import Frontend, commands_for
    from coral_jupyter.commands import HANDLERS

    assert {c.name for c in commands_for(Frontend.MAGIC)} == set(HANDLERS)


def test_the_usage_and_the_magic_doc_list_every_subcommand(project: Shell) -> None:
    from coral_jupyter.magics import CoralMagics
    from coral_jupyter.parser import PARSERS, usage

    doc = CoralMagics.coral.__doc__ or ""
    for name in PARSERS:
        assert f"%coral {name}" in usage() and f"%coral {name}" in doc, name
    assert "%coral tag [-m DESC] [--metric K=V] [-d] NAME [REF]" in doc
    assert "%%coral commit -m MSG" in doc


def test_help_usage_and_dash_h(project: Shell) -> None:
    assert "merge" in repr(project.run("%coral help"))
    assert "--strategy" in repr(project.run("%coral help merge"))
    assert "--into" in repr(project.run("%coral checkout -h"))
    assert "%coral" in repr(project.run("%coral"))


def test_cell_magic_commits_what_the_cell_assigned(project: Shell) -> None:
    result = project.run("%%coral commit -m 'cell'\nw1 = np.ones(3, np.float32)\nsteps = 5\n")
    assert isinstance(result, CommitOutcome) and "w1" in result.commit.weight_hashes
    assert "steps" not in result.commit.weight_hashes
    named = project.run(
        "%%coral commit -m 'trained' model\nwith torch.no_grad(): model[0].bias.add_(1)\n"
    )
    assert named.commit.metadata.message == "trained"
    before = _state(project.session.repo)
    assert "assigned no weights" in project.usage_error("%%coral commit -m 'x'\ny = 3\n")
    assert "runs a cell" in project.usage_error("%%coral status\nq = 1\n")
    failed = project.ip.run_cell("%%coral commit -m 'x'\nz = np.ones(2)\n1/0\n")
    assert isinstance(failed.error_in_exec, ZeroDivisionError)  # the user's own traceback
    assert _state(project.session.repo) == before


def test_a_model_that_dropped_a_layer_commits_without_it_and_checks_out_into_itself(
    project: Shell,
) -> None:
    project.run("model = torch.nn.Sequential(torch.nn.Linear(4, 3))")
    project.run("%coral add model")
    status = project.run("%coral status")
    assert status.removed == ["2.bias", "2.weight"]
    assert "removes 2 weights" in project.html(status)
    outcome = project.run('%coral commit -m "one layer" model')
    assert outcome.removal_summary is not None and "removed 2 weights" in outcome.removal_summary
    assert "removed 2 weights" in project.html(outcome) and "removed 2 weights" in repr(outcome)
    assert sorted(outcome.commit.weight_hashes) == ["0.bias", "0.weight"]
    project.run("%coral checkout HEAD --into model")  # strict: every name matches


def test_add_partial_keeps_heads_other_weights(project: Shell) -> None:
    project.run("head = {'2.bias': torch.zeros(2)}")
    status = project.run("%coral add --partial head")
    assert status.partial and status.removed == []
    outcome = project.run('%coral commit -m "head only"')
    assert outcome.removed == [] and len(outcome.commit.weight_hashes) == 4


def test_tab_completion(project: Shell) -> None:
    project.run("%coral branch exp")
    project.run("%coral tag v1")
    assert project.complete("%coral ch") == ["checkout"]
    assert {"exp", "main", "v1", "HEAD"} <= set(project.complete("%coral checkout "))
    assert project.complete("%coral merge e") == ["exp"]
    assert "ties" in project.complete("%coral merge exp --strategy ")
    project.run("arr = np.ones(2)")
    assert {"model", "arr"} <= set(project.complete("%coral commit -m x "))
    assert "0.weight" in project.complete("%coral get ")


def test_python_session_runs_the_same_commands(project: Shell) -> None:
    from coral_jupyter import Session

    session = Session()
    session.open(project.session.repo.path)
    namespace = {"z": np.zeros(4, np.float32)}
    outcome = session.run('commit -m "from python" z', namespace)
    assert outcome.commit.metadata.message == "from python"
    assert isinstance(session.run("merge main --dry-run", namespace), MergeOutcome)


def test_loading_the_extension_registers_magics_and_displays(tmp_path: Path) -> None:
    shell = Shell()
    shell.run("%load_ext coral_jupyter")
    repo = Repository(tmp_path / "r", init=True)
    shell.ns["repo"] = repo
    html = shell.html(repo)
    assert "Coral repository" in html
    plan_types = (MergePlan, Status)
    assert all(
        t in shell.ip.display_formatter.formatters["text/html"].type_printers for t in plan_types
    )


def test_large_stages_and_checkouts_show_a_progress_bar(
    project: Shell, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from coral_jupyter import progress

    monkeypatch.setattr(progress, "BAR_BYTES", 1)  # everything counts as large
    project.run("big = {f'w{i}': np.full(1000, i, np.float32) for i in range(5)}")
    project.run("%coral add big")
    assert "staging" in capsys.readouterr().err
    project.run('%coral commit -m "big"')
    project.run("%coral checkout main --into copy")
    assert "reading main" in capsys.readouterr().err
    assert sorted(project.ns["copy"]) == sorted(project.session.repo.get_commit().weight_hashes)


def test_question_mark_shows_the_magic_documentation(
    project: Shell, capsys: pytest.CaptureFixture[str]
) -> None:
    project.run("%coral?")
    assert "%%coral commit -m MSG" in capsys.readouterr().out


def test_hugging_face_style_names_load_back_into_the_same_module(shell: Shell) -> None:
    shell.run("%coral init .")
    shell.run(
        "import torch\n"
        "class LM(torch.nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.model = torch.nn.Linear(3, 3)\n"
        "        self.lm_head = torch.nn.Linear(3, 2)\n"
        "model = LM()\n"
    )
    shell.run('%coral commit -m "lm" model')  # names: model.weight, model.bias, lm_head.*
    shell.run("with torch.no_grad(): model.lm_head.weight.zero_()")
    shell.run("%coral checkout main --into model")
    assert not bool((shell.ns["model"].lm_head.weight == 0).all())
    shell.run("%coral checkout main --into fresh")
    assert sorted(shell.ns["fresh"]) == sorted(shell.ns["model"].state_dict())


def test_objects_committed_together_are_prefixed_and_collisions_refused(shell: Shell) -> None:
    shell.run("%coral init .")
    shell.run(
        "import numpy as np\n"
        "class Box: pass\n"
        "enc, dec = Box(), Box()\n"
        "enc.weight, dec.weight = np.ones(2), np.zeros(2)\n"
        "a = {'x': np.ones(1)}\nb = {'x': np.zeros(1)}\n"
    )
    shell.run("%coral add enc.weight dec.weight a b")
    staged = shell.session.repo.status().added
    assert sorted(staged) == ["a.x", "b.x", "dec.weight", "enc.weight"]
    shell.run('%coral commit -m "both"')
    shell.run("a['x'] = np.full(1, 5.0)")
    shell.run("%coral checkout main --into a")  # takes the a.* subset back
    assert shell.ns["a"]["x"].tolist() == [1.0]
    shell.run("import torch\nlin = torch.nn.Linear(2, 2)")
    before = shell.session.repo.status()
    assert "give a weight named 'lin.weight'" in shell.usage_error("%coral add lin lin.weight")
    assert shell.session.repo.status() == before


def test_remotes_push_pull_sync_and_clone(project: Shell, tmp_path: Path) -> None:
    from coral_jupyter.display import RemoteList, TransferReport

    assert "No remotes" in repr(project.run("%coral remote"))
    remotes = project.run(f"%coral remote add origin file://{tmp_path}/shared")
    assert isinstance(remotes, RemoteList) and "origin" in repr(remotes)
    project.html(remotes)
    assert project.complete("%coral push ") == ["origin"]
    pushed = project.run("%coral push")
    assert isinstance(pushed, TransferReport) and pushed.result["weights_pushed"] == 4
    assert "main -> " in repr(pushed)
    project.html(pushed)
    project.run("with torch.no_grad(): model[0].bias.add_(1.0)")
    project.run('%coral commit -m "bias" model')
    synced = project.run("%coral sync origin")
    assert "in sync" in repr(synced) and synced.result["push"]["weights_pushed"] == 1
    summary = project.run(f"%coral clone file://{tmp_path}/shared {tmp_path}/copy")
    assert "2 commits" in repr(summary)
    assert project.session.repo.path == (tmp_path / "copy").resolve()
    assert "0 weight object(s) pulled" in repr(project.run("%coral pull"))
    assert "no remote named 'nope'" in project.usage_error("%coral push nope")
    assert "usage" in project.usage_error("%coral remote add onlyname")
    project.run("%coral remote remove origin")
    assert project.session.repo.list_remotes() == {}


def test_bisect_and_blame_magics(shell: Shell) -> None:
    shell.run("%coral init .")
    repo = shell.session.repo
    for i in range(8):
        loss = np.array([0.1 if i < 5 else 3.0], np.float32)
        repo.stage_weights({"loss": loss, "step": np.array([i])})
        repo.commit(f"step {i}")
    shell.run("def loss(weights):\n    return float(weights['loss'].data[0])\n")
    report = shell.run("%coral bisect HEAD~7 HEAD --metric loss --threshold 1")
    assert "is the first bad commit" in repr(report) and "step 5" in repr(report)
    assert "step 7" in repr(shell.run("%coral blame"))
    assert "no function" in shell.usage_error("%coral bisect HEAD~7 HEAD --test nope")
