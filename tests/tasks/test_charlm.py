"""Charlm: the task's numbers, the model's causality, a short run, and the bugs its gates exist to catch."""

import math

import pytest
import torch

import saneloop.config.schema
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from saneloop.models import CharTransformer
from saneloop.tasks import CharLM, TextView
from tests.conftest import assert_every_gate_passed, assert_halted_at, gate, not_applicable, run_pipeline, stop_after

QUIET = ["output.progress=false", "output.save_weights=false"]
# A short run ends on the plateau near the bigram loss (~2.5 nats from 3.3), a drop far beyond the noise.
SHORT = ["train.max_steps=120", *QUIET]


def test_unit_prior_entropy_bias_and_gap_on_btv_outputs():
    task, targets = CharLM(vocab_size=4), torch.tensor([[0, 0, 1, 2], [0, 0, 1, 3]])
    prior = torch.tensor([0.5, 0.25, 0.125, 0.125])
    assert task.expected_init_loss(targets)[0] == pytest.approx(float(-(prior * prior.log()).sum()))
    bias = torch.zeros(4)
    task.init_bias(bias, targets)
    assert torch.allclose(bias.softmax(0), prior.float())
    assert task.prior_gap(bias.expand(2, 4, 4), targets)[0] == pytest.approx(0.0, abs=1e-6)
    assert task.prior_gap(torch.zeros(1, 4, 4), targets)[0] == pytest.approx(0.25)


def test_unit_metrics_in_nats_and_bits_and_the_baselines():
    task = CharLM(vocab_size=4)
    targets = torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]])
    m = task.metrics(torch.zeros(2, 4, 4), targets)  # uniform guesses: log 4 nats, 2 bits
    assert m["loss"] == pytest.approx(math.log(4)) and m["bits_per_char"] == pytest.approx(2.0)
    assert m["count"] == 2 and m["tokens"] == 8
    assert task.baselines(targets, targets)["unigram_bits_per_char"] == pytest.approx(2.0)


def test_unit_pair_check_wants_targets_shifted_by_one():
    task = CharLM(vocab_size=10)
    tokens = torch.arange(9).repeat(2, 1)
    assert task.pair_problems(tokens[:, :-1], tokens[:, 1:]) == []
    same = task.pair_problems(tokens, tokens)
    assert "targets equal the inputs" in same[0].why and same[0].indices == [0, 1]
    assert "shifted by one" in task.pair_problems(tokens[:, :-2], tokens[:, 2:])[0].why


def test_unit_decodes_batches_to_text():
    task = CharLM(vocab_size=3, vocab="ab\n")
    view = task.view_batch(torch.tensor([[0, 1, 2]]), torch.tensor([[1, 2, 0]]))
    assert isinstance(view, TextView) and view.lines == ["'ab\\n'  =>  'b\\na'"]
    assert task.decode(task.encode("ba\n")) == "ba\n"
    assert task.view_predictions(torch.eye(3)[None], torch.tensor([[1, 1, 1]])).predictions == ["ab\n"]


@pytest.mark.parametrize("diagonal, leaks", [(0, False), (1, True)])
def test_unit_transformer_output_at_t_depends_on_tokens_up_to_t(diagonal, leaks):
    torch.manual_seed(0)
    model = CharTransformer(vocab_size=5, block_size=8, dim=16, layers=2, heads=2, mask_diagonal=diagonal).eval()
    tokens = torch.randint(5, (1, 8))
    changed = tokens.clone()
    changed[0, 4] = (changed[0, 4] + 1) % 5
    moved = (model(tokens) - model(changed)).abs().amax(-1)[0] > 1e-6
    assert moved[4:].all() and bool(moved[:4].any()) == leaks


def test_short_run_passes_every_gate_and_beats_the_unigram(tmp_path):
    code, report = run_pipeline(tmp_path, *SHORT, recipe="charlm")
    assert code == EXIT_PASSED, report
    assert_every_gate_passed(report, not_applicable("charlm"))
    init = gate(report, "init_loss")
    assert abs(init["value"] - 3.31) < 0.05 and "unigram prior" in init["message"]  # not log 65 = 4.17
    assert report["metrics"]["bits_per_char"] < report["baselines"]["unigram_bits_per_char"] - 1


def test_targets_not_shifted_halt_at_setup(tmp_path):
    code, report = run_pipeline(
        tmp_path, "data._target_=bench.plants.unshifted_shakespeare", *QUIET, stop_after("targets"), recipe="charlm"
    )
    found = assert_halted_at(code, report, "setup", "targets")
    assert "targets equal the inputs" in found["message"] and "train" in found["message"]


@pytest.mark.skipif(
    "causality" not in saneloop.config.schema.GatesConfig.__dataclass_fields__,
    reason="causality gate lands with issue 3",
)
def test_mask_that_lets_t_see_t_plus_1_halts_at_causality(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.LeakyMaskTransformer", *SHORT, stop_after("causality"), recipe="charlm"
    )
    assert_halted_at(code, report, "sanity", "causality")


def test_model_without_a_time_axis_is_refused_before_training(tmp_path):
    code, report = run_pipeline(tmp_path, "model._target_=bench.plants.LastTokenTransformer", *QUIET, recipe="charlm")
    assert code == EXIT_INPUT_ERROR and "charlm expects logits [B, T, V]" in report["error"]


def test_unit_overfit_floor_counts_identical_prefixes_with_different_next_tokens():
    task = CharLM(vocab_size=5)
    x = torch.tensor([[0, 1, 2], [0, 1, 3], [1, 2, 3]])
    y = torch.tensor([[1, 2, 4], [1, 3, 4], [2, 3, 4]])  # windows 0 and 1 share the prefix [0, 1], then differ
    assert task.overfit_floor(x, y) == pytest.approx(2 * math.log(2) / 9)
    assert task.overfit_floor(x[1:], y[1:]) == 0.0


def test_unit_overfit_goal_is_threshold_above_the_floor():
    from saneloop.checks import overfit_batch
    from saneloop.checks.overfit import OverfitSettings as Settings

    model = torch.nn.Linear(1, 2)  # one input for two different targets: log 2 is the best it can do
    inputs, targets = torch.zeros(2, 1), torch.tensor([0, 1])
    run = lambda floor: overfit_batch(
        model,
        torch.nn.functional.cross_entropy,
        inputs,
        targets,
        lambda params: torch.optim.SGD(params, lr=0.5),
        Settings(),
        floor,
    )
    assert not run(0.0).passed
    verdict = run(math.log(2))
    assert verdict.passed and "a floor of 0.6931" in verdict.message
