"""Setup's look at the data costs the same on a thousand items or a million: every target is read
without decoding an input where the dataset stores them, a random sample of the inputs is checked,
workers do the reading, and a dataset that stores nothing is read whole, once, without keeping inputs."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import ConcatDataset, Subset, TensorDataset

from bench.plants.scale import SyntheticImages, _labels
from saneloop.checks.inputs_finite import at_most
from saneloop.config import Builders
from saneloop.data import survey
from saneloop.data.summary import Digest
from saneloop.errors import InputError
from tests.conftest import compose_cfg


class Counted(SyntheticImages):
    """Counts the items it makes (in this process)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.made = 0

    def __getitem__(self, index):
        self.made += 1
        return super().__getitem__(index)


class Relabelled(Counted):
    """Items whose target is not the stored one: a target_transform (every item) or a few out of step."""

    def __init__(self, n: int, shift_every: int = 1) -> None:
        super().__init__(n)
        self.shift_every = shift_every

    def __getitem__(self, index):
        image, label = super().__getitem__(index)
        return image, (label + 1) % 10 if index % self.shift_every == 0 else label


def loaders(train, test=None, workers: int = 0):
    cfg = compose_cfg(f"loader.train.num_workers={workers}", f"loader.test.num_workers={workers}")
    return Builders(cfg).loaders(train, test if test is not None else SyntheticImages(10), 0)


def look(train, sample: int = 2000, workers: int = 0):
    found = loaders(train, workers=workers)
    return survey.sampled(found, "train", survey.first_look(found, "train", sample, 0), sample, 0)


def test_stored_targets_are_read_whole_and_only_a_sample_of_items_is_made():
    data = Counted(100_000)
    summary = look(data)
    assert torch.equal(summary.targets, _labels(0, 100_000)) and summary.targets_from == "dataset.targets"
    assert data.made == summary.checked == 2000 and not summary.complete and summary.nonfinite == []


def test_the_sample_names_a_bad_item_it_draws():
    clean = look(Counted(50_000))
    bad = clean.sampled[7]
    summary = look(Counted(50_000, nan_at=[bad]))
    assert summary.nonfinite == [bad]


def test_a_dataset_without_stored_targets_is_read_whole_once():
    data = Counted(3000, stored_targets=False)
    summary = look(data)
    assert data.made == 3000 and summary.complete and torch.equal(summary.targets, _labels(0, 3000))
    assert summary.targets_from == "the items, every one read once"


def test_stored_targets_that_disagree_with_every_item_are_not_trusted():
    data = Relabelled(3000)
    summary = look(data)
    assert summary.complete and torch.equal(summary.targets, (_labels(0, 3000) + 1) % 10)
    assert "dataset.targets disagrees with the items' own targets" in summary.targets_from


def test_stored_targets_out_of_step_with_a_few_items_are_refused():
    with pytest.raises(InputError, match="disagrees with what the train items return as their target"):
        look(Relabelled(50_000, shift_every=97))


def test_tensor_datasets_are_checked_whole_without_reading_items():
    x, y = torch.randn(500, 3), torch.arange(500) % 4
    x[123, 1] = float("nan")

    class NoItems(TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("a TensorDataset is summarised from its tensors")

    summary = look(NoItems(x, y))
    assert summary.complete and summary.nonfinite == [123] and summary.targets_from == "tensors"


def test_subsets_and_concatenations_of_stored_targets_are_read_through():
    a, b = SyntheticImages(3000), SyntheticImages(5000, offset=3000)
    joined = look(ConcatDataset([a, b]))
    assert torch.equal(joined.targets, _labels(0, 8000)) and "ConcatDataset" in joined.targets_from
    part = look(Subset(a, list(range(0, 3000, 2))), sample=100)
    assert torch.equal(part.targets, _labels(0, 3000)[::2]) and "Subset" in part.targets_from


def test_workers_read_the_sample_and_only_digests_come_back():
    found = loaders(SyntheticImages(20_000), workers=2)
    pids = set()

    def digest(pairs):
        return os.getpid(), Digest(found.fmt, "train")(pairs)

    for pid, chunk in found.read(found.train_set, range(0, 20_000, 50), digest):
        pids.add(pid)
        assert chunk.targets is not None and not hasattr(chunk, "inputs")
    assert pids and os.getpid() not in pids


def test_sample_indices_are_distinct_random_and_cheap_for_any_length():
    picks = survey.sample_indices(10**12, 2000, 0)
    assert len(set(picks)) == 2000 and all(0 <= i < 10**12 for i in picks)
    assert picks == survey.sample_indices(10**12, 2000, 0) != survey.sample_indices(10**12, 2000, 1)
    assert sorted(survey.sample_indices(50, 2000, 0)) == list(range(50))


def test_the_stated_guarantee_is_the_exact_binomial_bound():
    assert round(at_most(2000), 5) == 0.0015  # "at most 0.15% of the set at 95%"
    assert (1 - at_most(2000)) ** 2000 == pytest.approx(0.05)
