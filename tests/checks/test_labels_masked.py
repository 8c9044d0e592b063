"""Gate labels_masked: a padded position is labelled with the ignore index only."""

from __future__ import annotations

import torch

from saneloop.checks import padding_labels_ignored
from saneloop.data.batch import Batch
from saneloop.tasks import CharLM, Classify


def lm_batch(pad_label: int) -> Batch:
    ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    mask = (ids != 0).long()
    labels = torch.where(mask.bool(), ids, torch.full_like(ids, pad_label))
    return Batch((), {"input_ids": ids, "attention_mask": mask}, labels)


def test_labels_minus_100_at_padding_pass():
    verdict = padding_labels_ignored(CharLM(10, shift_labels=True), [lm_batch(-100)])
    assert verdict.passed and "all 2 padded positions" in verdict.message


def test_labels_left_unmasked_at_padding_halt_naming_the_sample():
    verdict = padding_labels_ignored(CharLM(10, shift_labels=True), [lm_batch(0)])
    assert not verdict.passed and verdict.value == 2
    assert "sample 0" in verdict.message and "ignore index -100" in verdict.message


def test_skipped_for_one_label_per_sequence_and_without_mask():
    batch = lm_batch(-100)
    batch.targets = torch.tensor([1, 2])
    assert padding_labels_ignored(Classify(3), [batch]).status == "skipped"
    del batch.kwargs["attention_mask"]
    assert "no padding mask" in padding_labels_ignored(Classify(3), [batch]).message
