import torch
from torch import nn

from bench import plants
from saneloop.checks import inputs_reach_output
from saneloop.models import MLP
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

X = torch.rand(16, 1, 8, 8)


def test_unit_a_model_that_reads_part_of_its_input_is_named_with_the_features():
    verdict = inputs_reach_output(plants.PartialInputMLP(64, 10, keep=16), X)
    assert not verdict.passed and verdict.value == 48 and "[16, 17, 18" in verdict.message


def test_unit_features_that_never_vary_are_not_asked_about():
    x = X.clone()
    x[:, 0, 0, 0] = 0.0  # a blank corner pixel: whatever the model does with it, nothing to learn there
    model = plants.OneColumnMLP(64, 10, column=1)
    x[:, 0, 0, 1] = 1.0  # the one column it reads is constant too
    verdict = inputs_reach_output(model, x)
    assert not verdict.passed and verdict.value == 62  # the 62 pixels that vary, all unread


def test_unit_every_layer_kind_reads_its_whole_input():
    assert inputs_reach_output(MLP(64, 10), X).passed
    conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(256, 3))
    assert inputs_reach_output(conv, X).passed
    tokens = torch.randint(0, 20, (8, 12))
    lm = nn.Sequential(nn.Embedding(20, 8), nn.Linear(8, 20))
    assert inputs_reach_output(lm, tokens).passed


def test_partial_input_halts_at_sanity(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.PartialInputMLP", "+model.keep=16", *FAST, stop_after("inputs_used")
    )
    found = assert_halted_at(code, report, "sanity", "inputs_used")
    assert "ignores part of its input" in found["message"]


def test_clean_run_passes(default_run):
    assert gate(default_run[1], "inputs_used")["status"] == "passed"
