"""Gate last_batch: the epoch's last, partial training batch is one the model can train on."""

import torch
from torch import nn

from bench.plants import BatchNormDropoutMLP
from saneloop.checks import last_batch_trains
from saneloop.data.batch import Batch
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def _batch(n: int = 8) -> Batch:
    gen = torch.Generator().manual_seed(0)
    return Batch((torch.randn(n, 4, generator=gen),), {}, torch.randint(0, 3, (n,), generator=gen))


def test_unit_a_batch_of_one_through_batchnorm_halts_naming_drop_last():
    model = BatchNormDropoutMLP(4, 3, hidden=8)
    verdict = last_batch_trains(model, nn.functional.cross_entropy, _batch(), items=17, batch_size=8)
    assert not verdict.passed and verdict.value == 1
    assert "drop_last=true" in verdict.message and "Expected more than 1 value" in verdict.message
    assert model.training  # the copy was trained on, never the model


def test_unit_a_model_without_batch_statistics_trains_on_a_batch_of_one():
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    assert last_batch_trains(model, nn.functional.cross_entropy, _batch(), items=17, batch_size=8).passed


def test_unit_full_batches_or_a_dropped_remainder_need_no_try():
    model = BatchNormDropoutMLP(4, 3, hidden=8)
    loss = nn.functional.cross_entropy
    assert "every batch is full" in last_batch_trains(model, loss, _batch(), items=16, batch_size=8).message
    assert "dropped" in last_batch_trains(model, loss, _batch(), items=17, batch_size=8, drop_last=True).message


def test_batchnorm_model_with_a_last_batch_of_one_halts_in_setup(tmp_path):
    """1213 training digits (1348 less the 135 carved for validation) in batches of 404: epoch 1 would end
    on one item, and crash there."""
    model = ["model._target_=bench.plants.BatchNormDropoutMLP", "loader.train.batch_size=404"]
    code, report = run_pipeline(tmp_path, *model, *FAST, stop_after("last_batch"))
    found = assert_halted_at(code, report, "setup", "last_batch")
    assert "a batch of 1" in found["message"] and "loader.train.drop_last=true" in found["message"]


def test_clean_run_passes(default_run):
    _, report, _ = default_run
    found = gate(report, "last_batch")
    assert found["status"] == "passed" and "a batch of 61" in found["message"]  # 1213 = 18 x 64 + 61
