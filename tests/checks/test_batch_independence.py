import pytest
import torch
from torch import nn

from bench import plants
from saneloop.checks import independent_samples
from saneloop.models import MLP
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

X = torch.rand(16, 1, 8, 8)


@pytest.mark.parametrize(
    "model",
    [plants.TimeMajorNet(64, 10, permute=False), plants.BatchStandardizedMLP(64, 10), plants.BatchSoftmaxMLP(64, 10)],
    ids=lambda m: type(m).__name__,
)
def test_unit_models_that_mix_the_batch_fail(model):
    verdict = independent_samples(model, X)
    assert not verdict.passed and "mixes the batch" in verdict.message and verdict.value > 0


@pytest.mark.parametrize(
    "model",
    [MLP(64, 10), plants.TimeMajorNet(64, 10), plants.BatchNormDropoutMLP(64, 10)],
    ids=lambda m: type(m).__name__,
)
def test_unit_independent_models_pass(model):
    verdict = independent_samples(model, X)
    assert verdict.passed, verdict.message
    matrix = torch.tensor(verdict.details["dependency"])
    assert matrix.shape == (16, 16) and bool((matrix.diagonal() > 0).all())


def test_unit_batchnorm_and_dropout_run_in_eval_mode_and_say_so():
    model = plants.BatchNormDropoutMLP(64, 10).train()
    verdict = independent_samples(model, X)
    assert verdict.passed and "2 BatchNorm and 2 Dropout layer(s) in eval mode" in verdict.message
    assert model.training and all(m.training for m in model.modules())  # the user's model is untouched


def test_unit_output_independent_of_input_is_a_finding_not_a_crash():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = nn.Parameter(torch.zeros(10))

        def forward(self, x):
            return self.bias.expand(len(x), 10)

    verdict = independent_samples(Constant(), X)
    assert not verdict.passed and "do not depend on the inputs at all" in verdict.message
    assert not independent_samples(plants.DetachedBodyMLP(64, 10), X).passed


def test_unit_integer_tokens_probe_the_embedding_output():
    tokens = torch.randint(0, 8, (6, 12))
    verdict = independent_samples(plants.TinyCausalLM(8), tokens)
    assert verdict.passed and "`tokens` (Embedding)" in verdict.message


@pytest.mark.parametrize("model", ["TimeMajorNet +model.permute=false", "BatchStandardizedMLP", "BatchSoftmaxMLP"])
def test_batch_mixing_halts_at_sanity(tmp_path, model):
    name, *extra = model.split()
    code, report = run_pipeline(
        tmp_path, f"model._target_=bench.plants.{name}", *extra, *FAST, stop_after("batch_independence")
    )
    found = assert_halted_at(code, report, "sanity", "batch_independence")
    assert found["value"] > 0 and "view" in found["message"] and "batch axis" in found["message"]
    assert report["figures"]["batch_independence"] == ["figures/dependency.png"]
    assert (tmp_path / "figures" / "dependency.png").stat().st_size > 5000


def test_batchnorm_dropout_model_passes_every_gate(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.BatchNormDropoutMLP", "model.hidden=128", "model.dropout=0.2", *FAST
    )
    assert code == 0, report
    assert "in eval mode" in gate(report, "batch_independence")["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "batch_independence")["status"] == "passed"


def test_pipeline_halts_after_training_when_mixing_appears_only_once_trained(tmp_path):
    from tests.conftest import FAST, assert_halted_at, gate, run_pipeline

    code, report = run_pipeline(
        tmp_path, *FAST, "model._target_=bench.plants.ZeroInitBatchMixMLP", stop_after("trained_batch_independence")
    )
    assert gate(report, "batch_independence")["status"] == "passed"  # exactly independent at init
    found = assert_halted_at(code, report, "evaluate", "trained_batch_independence")
    assert found["message"].startswith("on the trained weights: the model mixes the batch")
