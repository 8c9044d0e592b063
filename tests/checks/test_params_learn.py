import torch
import torch.nn.functional as F

from bench import plants
from saneloop.checks import every_param_learns
from saneloop.models import MLP
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

X, Y = torch.rand(16, 1, 8, 8), torch.randint(0, 10, (16,))


def test_unit_detached_submodule_is_named():
    verdict = every_param_learns(plants.DetachedBodyMLP(64, 10), F.cross_entropy, X, Y)
    assert not verdict.passed and verdict.value == 4 and "body.1.weight" in verdict.message
    assert verdict.details["no_grad"] == ["body.1.weight", "body.1.bias", "body.3.weight", "body.3.bias"]


def test_unit_frozen_parameters_are_information_not_failure():
    model = MLP(64, 10)
    model.body[1].requires_grad_(False)
    verdict = every_param_learns(model, F.cross_entropy, X, Y)
    assert verdict.passed and "frozen" in verdict.message and "body.1.weight" in verdict.message


def test_unit_a_frozen_body_is_listed_and_a_trainable_layer_without_gradient_still_halts():
    """A linear probe on a frozen pretrained body, whose second trainable layer is cut off by a detach."""
    model = plants.DetachedBodyMLP(64, 10)
    model.body[1].requires_grad_(False)
    verdict = every_param_learns(model, F.cross_entropy, X, Y)
    assert not verdict.passed and verdict.details["frozen"] == ["body.1.weight", "body.1.bias"]
    assert verdict.details["no_grad"] == ["body.3.weight", "body.3.bias"] and "not trained by choice" in verdict.message


def test_unit_zero_gradient_everywhere_counts():
    model = MLP(64, 10)
    model.body.register_forward_hook(lambda module, args, out: out * 0)  # an output multiplied by zero, always
    verdict = every_param_learns(model, F.cross_entropy, X, Y)
    assert not verdict.passed and "gradient zero everywhere" in verdict.message
    assert "head.weight" in verdict.details["zero_grad"] and "head.bias" not in verdict.details["zero_grad"]


def test_unit_a_zero_initialised_head_is_no_dead_body():
    """A factor that starts at zero (a zero head, LoRA's B) gives the layers before it no gradient at init,
    and one as soon as it moves: the body learns after the first step, so nothing halts."""
    model = MLP(64, 10)
    with torch.no_grad():
        model.head.weight.zero_()
    assert every_param_learns(model, F.cross_entropy, X, Y).passed


def test_detached_submodule_halts_at_sanity(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.DetachedBodyMLP", *FAST, stop_after("params_learn")
    )
    found = assert_halted_at(code, report, "sanity", "params_learn")
    assert "body.1.weight" in found["message"] and "detach" in found["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "params_learn")["status"] == "passed"
