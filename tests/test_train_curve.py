"""The loss curve's validation points during train cost a small, stated share of training: each reads the
same fixed, seeded `train.curve_items` validation items (all when fewer), and the report says what they cost."""

from __future__ import annotations

import re
from functools import partial

import torch
from torch.utils.data import DataLoader, TensorDataset

from saneloop.checks import GATES
from saneloop.data.batch import BatchFormat
from saneloop.data.loaders import Loaders
from saneloop.stages.train_curve import curve_loader
from tests.conftest import FAST, run_pipeline

GATES_OFF = [f"gates.{gate.name}.enabled=false" for gate in GATES]


def _indices(loader: DataLoader) -> list[int]:
    return [int(i) for batch in loader for i in batch.indices]


def _loaders(size: int) -> Loaders:
    data = TensorDataset(torch.randn(size, 3), torch.arange(size))
    factory = partial(DataLoader, batch_size=64, shuffle=False)
    return Loaders(data, data, factory, factory, BatchFormat(), seed=0, val_set=data)


def test_the_curve_reads_the_same_seeded_subset_of_a_large_validation_set_and_all_of_a_small_one():
    loaders = _loaders(1000)
    chosen = _indices(curve_loader(loaders, 100))
    assert len(chosen) == 100 and chosen == sorted(set(chosen)) and chosen[-1] < 1000
    assert chosen != list(range(100))  # drawn across the set, not its first items
    assert _indices(curve_loader(loaders, 100)) == chosen  # the same items at every point
    batch = next(iter(curve_loader(loaders, 100)))
    assert torch.equal(batch.targets, batch.indices)  # each item comes with its own index (targets here)
    assert _indices(curve_loader(loaders, 1000)) == list(range(1000))


def test_the_report_states_the_share_of_training_the_curve_took(tmp_path):
    short = ("train.max_steps=12", "train.curve_items=40", "train.full_evals=2")
    code, report = run_pipeline(tmp_path, *FAST, *GATES_OFF, *short)
    assert code == 0, report
    [note] = [n for n in report["notes"] if n.startswith("loss curve:")]
    found = re.fullmatch(
        r"loss curve: 3 evaluations of 40 of (\d+) validation items <train.curve_items> took "
        r"[\d.]+ s, \d+% of the [\d.]+ s of training steps",
        note,
    )
    assert found and int(found.group(1)) > 40, note
