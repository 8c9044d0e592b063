import pytest
import torch

from bench import plants
from saneloop.checks import causal_dependencies
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

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
    code, report = run_pipeline(tmp_path, *CAUSAL, "+model.mask_offset=1", *FAST, stop_after("causality"))
    found = assert_halted_at(code, report, "sanity", "causality")
    assert found["value"] == 11 and "off by one" in found["message"]
    assert (tmp_path / "figures" / "causality.png").stat().st_size > 5000


def test_causal_model_passes(tmp_path):
    _, report = run_pipeline(tmp_path, *CAUSAL, *FAST, stop_after("causality"))
    assert gate(report, "causality")["status"] == "passed"
    assert gate(report, "batch_independence")["status"] == "passed"


def test_not_causal_task_skips(default_run):
    assert gate(default_run[1], "causality")["status"] == "skipped"


def test_unit_diagonal_masked_inside_attention_fails_though_the_residual_carries_token_t():
    from saneloop.models import CharTransformer

    torch.manual_seed(0)
    tokens = torch.randint(0, 65, (4, 64), generator=torch.Generator().manual_seed(0))
    verdict = causal_dependencies(CharTransformer(65, 64, mask_diagonal=-1), tokens, 16)
    assert not verdict.passed and "`blocks.0.attn` at positions [0]" in verdict.message
    clean = causal_dependencies(CharTransformer(65, 64), tokens, 16)
    assert clean.passed and "each of 4 attention layers sees its own position" in clean.message


def test_unit_an_additive_mask_that_training_outgrows_is_caught_on_the_trained_weights():
    """minGPT #75: causal at init (exp(-110) is exactly 0), not after 100 steps of training."""
    from saneloop.datasets import tiny_shakespeare

    torch.manual_seed(0)
    x, y = tiny_shakespeare()[0].tensors
    model = plants.AdditiveMaskCharTransformer(65, 64, dim=32, layers=2)
    assert causal_dependencies(model, x[:4], 16).passed
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        idx = torch.randint(0, len(x), (32,), generator=gen)
        loss = torch.nn.functional.cross_entropy(model(x[idx]).reshape(-1, 65), y[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    verdict = causal_dependencies(model, x[:4], 16)
    assert not verdict.passed and "sees the future" in verdict.message
