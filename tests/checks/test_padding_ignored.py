"""Gate padding_ignored: padded content reaches no real output, every real position reaches one."""

from __future__ import annotations

import torch
from torch import nn

from saneloop.checks import padding_ignored
from saneloop.data.batch import Batch


class MeanPool(nn.Module):
    """Embedding -> a mean over positions -> logits. `mask`: "own" (correct), "none" (ignored), "first"
    (sample 0's mask for every sample)."""

    def __init__(self, mask: str = "own", vocab: int = 20, dim: int = 8, classes: int = 3) -> None:
        super().__init__()
        self.mask, self.embed, self.head = mask, nn.Embedding(vocab, dim), nn.Linear(dim, classes)

    def forward(self, input_ids, attention_mask):
        h = torch.tanh(self.embed(input_ids))
        m = {"own": attention_mask, "none": torch.ones_like(attention_mask), "first": attention_mask[:1]}[self.mask]
        m = m.expand_as(attention_mask).unsqueeze(-1).float()
        return self.head((h * m).sum(1) / m.sum(1).clamp_min(1))


def padded_batch(lengths=(5, 2, 7, 3)) -> Batch:
    ids = torch.randint(1, 20, (len(lengths), max(lengths)), generator=torch.Generator().manual_seed(0))
    mask = (torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]).long()
    return Batch((), {"input_ids": ids * mask, "attention_mask": mask}, torch.zeros(len(lengths), dtype=torch.long))


def test_a_model_that_uses_its_mask_passes():
    torch.manual_seed(0)
    verdict = padding_ignored(MeanPool("own"), padded_batch())
    assert verdict.passed and verdict.status == "passed", verdict.message
    assert "`embed` (Embedding), the token embedding" in verdict.message


def test_an_ignored_mask_halts_naming_the_padded_positions():
    torch.manual_seed(0)
    verdict = padding_ignored(MeanPool("none"), padded_batch())
    assert not verdict.passed and "padded positions (samples [0, 1, 3])" in verdict.message  # sample 2: no padding
    assert "attention mask ignored" in verdict.message


def test_one_samples_mask_for_all_halts_whether_it_is_longer_or_shorter():
    torch.manual_seed(0)
    shorter_first = padding_ignored(MeanPool("first"), padded_batch((2, 5, 7, 3)))  # hides real tokens of others
    longer_first = padding_ignored(MeanPool("first"), padded_batch((7, 5, 2, 3)))  # lets others' padding in
    assert not shorter_first.passed and "reach no output" in shorter_first.message
    assert not longer_first.passed and "changes outputs at real positions" in longer_first.message


def test_a_mask_that_marks_a_whole_sample_as_padding_halts():
    batch = padded_batch()
    batch.kwargs["attention_mask"] = torch.zeros_like(batch.kwargs["attention_mask"])  # token_type_ids, say
    verdict = padding_ignored(MeanPool("own"), batch)
    assert not verdict.passed and "token_type_ids" in verdict.message


def test_skipped_without_a_mask_or_without_padding():
    batch = padded_batch((4, 4))
    assert padding_ignored(MeanPool(), batch).status == "skipped"
    del batch.kwargs["attention_mask"]
    assert "no padding mask" in padding_ignored(nn.Embedding(20, 3), batch).message
