"""The PyTorch adapter: parameters and buffers, every dtype, strict loading."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from coral.errors import InvalidWeightError, WeightTypeError
from coral.version_control import Repository

torch = pytest.importorskip("torch")

from coral.integrations.pytorch import (  # noqa: E402
    coral_to_pytorch,
    load_into,
    load_into_model,
    pytorch_to_coral,
    to_torch_tensor,
)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 4)
    )


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    width = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    return bool(torch.equal(a.contiguous().view(width), b.contiguous().view(width)))


def test_module_conversion_covers_parameters_and_buffers_with_layer_types() -> None:
    model = _model()
    weights = pytorch_to_coral(model, model_name="mlp")
    assert set(weights) == set(model.state_dict())
    assert "1.num_batches_tracked" in weights and weights["1.num_batches_tracked"].dtype == np.int64
    assert weights["0.weight"].metadata.layer_type == "Linear"
    assert weights["1.running_mean"].metadata.layer_type == "BatchNorm1d"
    assert weights["3.bias"].metadata.model_name == "mlp"


@pytest.mark.parametrize(
    "dtype",
    [
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.float64,
        torch.int8,
        torch.int16,
        torch.int32,
        torch.int64,
        torch.uint8,
        torch.bool,
        torch.float8_e4m3fn,
        torch.float8_e5m2,
    ],
)
def test_every_dtype_round_trips_through_a_repository_bit_exact(
    repo: Repository, dtype: torch.dtype
) -> None:
    torch.manual_seed(1)
    raw = torch.randn(5, 7) * 3
    tensor = raw.to(dtype) if dtype != torch.bool else raw > 0
    nan_and_negzero = (
        torch.tensor([float("nan"), -0.0, 1e-40]).to(dtype) if dtype.is_floating_point else None
    )
    state = {"t": tensor, "t.T": tensor.t()}  # a non-contiguous view too
    if nan_and_negzero is not None:
        state["special"] = nan_and_negzero
    repo.stage_weights(pytorch_to_coral(state))
    repo.commit(str(dtype))
    back = coral_to_pytorch(repo.get_all_weights())
    for name, original in state.items():
        assert _same_bits(back[name], original), name


def test_tensors_can_be_staged_directly(repo: Repository) -> None:
    model = _model()
    repo.stage_weights(model.state_dict())
    repo.commit("raw state dict")
    back = coral_to_pytorch(repo.get_all_weights())
    assert all(_same_bits(back[k], v) for k, v in model.state_dict().items())


def test_the_staged_copy_is_independent_of_further_training(repo: Repository) -> None:
    model = _model()
    weights = pytorch_to_coral(model)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    repo.stage_weights(weights)
    repo.commit("before the step")
    back = coral_to_pytorch(repo.get_all_weights())
    assert all(_same_bits(back[k], v) for k, v in before.items())


def test_load_into_model_restores_a_checkpoint_bit_exact(repo: Repository) -> None:
    model = _model()
    repo.stage_weights(pytorch_to_coral(model))
    repo.commit("checkpoint")
    expected = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(0)
    report = load_into_model(model, repo.get_all_weights())
    assert report.ok
    assert all(_same_bits(model.state_dict()[k], v) for k, v in expected.items())


def test_load_into_model_refuses_mismatches_and_loads_nothing(repo: Repository) -> None:
    model = _model()
    weights = pytorch_to_coral(model)
    bad = dict(weights)
    bad["0.weight"] = pytorch_to_coral({"x": torch.zeros(3, 3)})["x"]
    del bad["3.bias"]
    bad["extra.weight"] = weights["3.weight"]
    target = _model()
    with torch.no_grad():
        target[0].bias.fill_(7.0)
    with pytest.raises(InvalidWeightError) as info:
        load_into_model(target, bad)
    message = str(info.value)
    assert "3.bias" in message and "extra.weight" in message and "0.weight: shape" in message
    assert torch.all(target[0].bias == 7.0)  # nothing was half-loaded


def test_non_strict_loading_allows_missing_names_but_never_wrong_shapes() -> None:
    model = _model()
    weights = pytorch_to_coral(model)
    partial = {k: v for k, v in weights.items() if k.startswith("0.")}
    report = load_into_model(_model(), partial, strict=False)
    assert not report.ok and "3.bias" in report.missing
    dtype_changed = dict(weights)
    dtype_changed["0.bias"] = pytorch_to_coral({"b": model[0].bias.double()})["b"]
    with pytest.raises(InvalidWeightError, match="dtype float64"):
        load_into_model(_model(), dtype_changed, strict=False)


def test_load_into_refuses_a_dtype_mismatch_and_loads_nothing() -> None:
    model = _model()
    as_float64 = {
        k: v.double() if v.is_floating_point() else v for k, v in model.state_dict().items()
    }
    target = _model()
    with torch.no_grad():
        target[0].bias.fill_(7.0)
    with pytest.raises(InvalidWeightError, match=r"0.bias: dtype float64 in the weights, float32"):
        load_into(target, pytorch_to_coral(as_float64))
    assert target[0].bias.dtype == torch.float32 and torch.all(target[0].bias == 7.0)


def test_a_module_on_the_meta_device_is_refused_with_how_to_materialise_it() -> None:
    with torch.device("meta"):
        model = torch.nn.Linear(2, 3)
    with pytest.raises(InvalidWeightError, match=r"'weight'.*meta device.*to_empty"):
        pytorch_to_coral(model)


def test_bad_state_dict_entries_are_refused() -> None:
    with pytest.raises(WeightTypeError, match="'step'"):
        pytorch_to_coral({"step": 3})
    with pytest.raises(WeightTypeError):
        pytorch_to_coral([torch.zeros(1)])
    with pytest.raises(InvalidWeightError, match=r"sparse|to_dense"):
        pytorch_to_coral({"s": torch.zeros(3, 3).to_sparse()})


def test_to_torch_tensor_copies_unless_asked_to_share() -> None:
    weights = pytorch_to_coral({"w": torch.arange(4, dtype=torch.float32)})
    owned = to_torch_tensor(weights["w"])
    owned.add_(1)
    assert weights["w"].data.tolist() == [0.0, 1.0, 2.0, 3.0]


def test_importing_coral_does_not_import_torch() -> None:
    code = (
        "import sys, coral.version_control, coral.integrations.pytorch; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_torch_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from coral.integrations.pytorch import pytorch_to_coral\n"
        "try:\n    pytorch_to_coral({})\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'coral[torch]'" in out.stdout


def test_load_into_is_the_short_name_of_load_into_model() -> None:
    from coral.integrations.pytorch import load_into, pytorch_to_coral

    source, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    report = load_into(target, pytorch_to_coral(source))
    assert report.missing == [] and torch.equal(source.weight, target.weight)
