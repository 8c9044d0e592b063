import pytest
import torch

from bench import plants
from saneloop.checks import causal_dependencies
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline

TOKENS = torch.randint(0, 8, (4, 12), generator=torch.Generator().manual_seed(0))
# A tiny causal task: each position predicts the previous token (bench.plants.sequences).
CAUSAL = [
    "data._target_=bench.plants.sequences",
    "data.num_classes=8",
    "~data.test_size",
    "~data.split_seed",
    "task._target_=bench.plants.PerPositionClassify",
    "model._target_=bench.plants.TinyCausalLM",
    "~model.in_features",
    "~model.depth",
    "~model.dropout",
    "model.hidden=32",
]


@pytest.mark.parametrize("offset", [1, 2, 11])
def test_unit_mask_that_lets_t_see_the_future_fails(offset):
    verdict = causal_dependencies(plants.TinyCausalLM(8, mask_offset=offset), TOKENS)
    assert not verdict.passed and "position 0 sees the future" in verdict.message
    assert "diagonal=1" in verdict.message


def test_unit_correct_mask_passes_and_maps_a_lower_triangle():
    verdict = causal_dependencies(plants.TinyCausalLM(8), TOKENS)
    assert verdict.passed, verdict.message
    matrix = torch.tensor(verdict.details["dependency"])
    assert matrix.shape == (12, 12) and bool((matrix.triu(1) == 0).all()) and bool((matrix.diagonal() > 0).all())


def test_unit_fully_masked_first_row_gives_nan_and_fails():
    verdict = causal_dependencies(plants.TinyCausalLM(8, mask_offset=-1), TOKENS)
    assert not verdict.passed and "NaN" in verdict.message


def test_mask_off_by_one_halts_at_sanity(tmp_path):
    code, report = run_pipeline(tmp_path, *CAUSAL, "+model.mask_offset=1", *FAST)
    found = assert_halted_at(code, report, "sanity", "causality")
    assert found["value"] == 11 and "off by one" in found["message"]
    assert (tmp_path / "figures" / "causality.png").stat().st_size > 5000


def test_causal_model_passes(tmp_path):
    _, report = run_pipeline(tmp_path, *CAUSAL, *FAST)
    assert gate(report, "causality")["status"] == "passed"
    assert gate(report, "batch_independence")["status"] == "passed"


def test_not_causal_task_skips(default_run):
    assert gate(default_run[1], "causality")["status"] == "skipped"
