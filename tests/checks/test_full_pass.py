"""Gate full_pass: epoch 1 of train checks every training item it reads. A bad item that setup's random
sample missed halts the run before the optimizer step on its batch, named by its index; a clean
map-style set passes with every item read; in-memory tensors were checked whole in setup."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

from saneloop.checks.full_pass import BatchInspector
from saneloop.data.batch import Batch
from saneloop.data.streams import Stream, generator
from saneloop.data.survey import sample_indices
from saneloop.errors import EXIT_PASSED
from tests.conftest import assert_halted_at, gate, run_pipeline, stop_after

QUIET = ["output.progress=false", "output.save_weights=false", "output.figures=false"]
N = 20_000
# The split gates and label_noise read samples of up to 20,000 and 8,192 training items (here: all or
# most of them), inspected like every gate's read, so a bad item halts there; these tests are about the
# other readers.
SPLITS_OFF = [
    "gates.split_overlap.enabled=false",
    "gates.split_shift.enabled=false",
    "gates.target_leak.enabled=false",
    "gates.hidden_leak.enabled=false",
    "gates.label_noise.enabled=false",
]


def synthetic(n: int, *extra: str) -> list[str]:
    """The data with a validation set of its own: the training set is read as given, its items numbered
    as the tests plant them (a carved one would hold 90% of them, renumbered)."""
    return ["data._target_=bench.plants.synthetic_images", f"+data.n={n}", "+data.val_size=1000", *extra]


def order(n: int, seed: int, stream: Stream = Stream.TRAIN_ORDER) -> list[int]:
    """The order a shuffled DataLoader with the generator of `stream` of seed `seed` reads n items in."""
    loader = DataLoader(range(n), batch_size=n, shuffle=True, generator=generator(seed, stream))
    return next(iter(loader)).tolist()


def unread(n: int, seed: int = 0) -> int:
    """An item no gate reads before train: outside setup's sample (2,000 items), among the last the
    gates' shuffle would reach, not in the overfit batch, and past the batches determinism reads."""
    fixed = torch.randperm(n, generator=generator(seed, Stream.FIXED_BATCH))[:8].tolist()
    sample = set(sample_indices(n, 2000, seed)) | set(fixed)
    epoch = order(n, seed)
    late = set(epoch[640:])
    return next(i for i in reversed(order(n, seed, Stream.PROBE)) if i not in sample and i in late)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_item_far_into_the_set_halts_train_before_its_step(tmp_path, workers):
    bad = unread(N)
    code, report = run_pipeline(
        tmp_path,
        *synthetic(N, f"+data.nan_at=[{bad}]"),
        f"loader.train.num_workers={workers}",
        "train.epochs=2",
        *QUIET,
        *SPLITS_OFF,
        stop_after("full_pass"),
    )
    found = assert_halted_at(code, report, "train", "full_pass")
    assert gate(report, "inputs_finite")["status"] == "passed"  # setup's sample did not draw it
    steps = order(N, 0).index(bad) // 64  # the batch of epoch 1 that holds it
    assert f"input `0` holds NaN or Inf at train items [{bad}]" in found["message"]
    assert f"Halted before optimizer step {steps + 1} ({steps} steps taken, none on this batch)" in found["message"]


def test_a_bad_item_a_gate_reads_halts_there_naming_the_item_not_the_model(tmp_path):
    sample = set(sample_indices(N, 2000, 0))
    bad = next(i for i in order(N, 0, Stream.PROBE)[64:] if i not in sample)  # in the gates' second probe batch
    code, report = run_pipeline(
        tmp_path, *synthetic(N, f"+data.nan_at=[{bad}]"), *QUIET, *SPLITS_OFF, "stop_after=sanity"
    )
    found = assert_halted_at(code, report, "sanity", "full_pass")
    # sanity's first reader of that batch is the pretraining check before init_bias (the loss at init)
    assert "sanity read training items whose data are bad" in found["message"]
    assert f"input `0` holds NaN or Inf at train items [{bad}]" in found["message"]


def test_a_bad_item_read_outside_a_gate_halts_the_stage_the_same_way(tmp_path):
    sample = set(sample_indices(N, 2000, 0))
    bad = next(i for i in order(N, 0, Stream.PROBE)[:64] if i not in sample)  # setup's output-shape probe reads it
    code, report = run_pipeline(
        tmp_path, *synthetic(N, f"+data.nan_at=[{bad}]"), *QUIET, *SPLITS_OFF, "stop_after=setup"
    )
    found = assert_halted_at(code, report, "setup", "full_pass")
    assert "stage setup read training items whose data are bad (train items" in found["message"]
    assert f"at train items [{bad}]" in found["message"]


def test_a_clean_map_style_set_passes_with_every_training_item_read(tmp_path):
    code, report = run_pipeline(tmp_path, *synthetic(5000), "train.epochs=2", *QUIET)
    assert code == EXIT_PASSED, report["error"]
    found = gate(report, "full_pass")
    assert found["status"] == "passed" and found["value"] == found["expected"] == 5000
    assert "5,000 of 5,000 training items read in epoch 1" in found["message"]
    assert "2,000 random train items of 5,000" in gate(report, "inputs_finite")["message"]


def test_a_run_stopped_within_epoch_one_says_how_many_items_were_not_read(tmp_path):
    _, report = run_pipeline(
        tmp_path,
        *synthetic(5000),
        "train.max_steps=10",
        "gates.loss_decreases.waive='10 steps'",
        *QUIET,
        stop_after("full_pass"),
    )
    found = gate(report, "full_pass")
    assert found["status"] == "passed" and found["value"] == 640
    assert "before train stopped within epoch 1 (4,360 not read)" in found["message"]


def test_in_memory_tensors_were_checked_whole_in_setup(default_run):
    found = gate(default_run[1], "full_pass")
    assert (
        found["status"] == "passed" and "setup checked all 1,213 training items (in-memory tensors" in found["message"]
    )


def _batch(x: torch.Tensor, y: torch.Tensor, indices: list[int]) -> Batch:
    return Batch((x,), {}, y, torch.tensor(indices))


def test_inspector_names_the_items_with_nan_inputs_or_targets():
    x, y = torch.zeros(4, 3), torch.zeros(4)
    x[2, 1], y[3] = float("nan"), float("inf")
    problems = BatchInspector()(_batch(x, y, [10, 11, 12, 13]))
    assert problems == [
        "input `0` holds NaN or Inf at train items [12]",
        "the target holds NaN or Inf at train items [13]",
    ]


def test_inspector_names_items_whose_target_is_not_the_stored_one():
    stored = torch.arange(20)
    y = stored[[5, 6, 7]].clone()
    y[1] = 0
    problems = BatchInspector(stored)(_batch(torch.zeros(3, 2), y, [5, 6, 7]))
    assert problems == ["its target differs from the stored one the targets gate judged at train items [6]"]


def test_inspector_turns_a_collate_error_into_a_problem_and_passes_a_clean_batch():
    assert BatchInspector()(_batch(torch.zeros(2, 2), torch.zeros(2), [0, 1])) is None
    problems = BatchInspector()(Batch(indices=torch.tensor([3, 4])), RuntimeError("stack expects equal size"))
    assert problems == ["they cannot be collated into one batch (RuntimeError: stack expects equal size)"]
