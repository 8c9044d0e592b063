"""The position probes read attended positions only (issue 22.6): a position that is padding in every item of
the probe batch holds nothing to see, so causality (and its attention-path look), batch_independence and
padding_ignored skip it and say how many they skipped; a causal leak at the real positions still fails.

Three paddings, as real collators make them: to a fixed length (`padding="max_length"`: every item padded,
the last positions padding in all of them), to the longest item, and on the left."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from saneloop.checks import causal_dependencies, independent_samples
from saneloop.checks.padding_ignored import padding_ignored
from saneloop.data.batch import Batch
from saneloop.data.padding import attended_positions

LENGTHS = (20, 33, 9, 36)  # every line shorter than the fixed length 48
PADDINGS = ("max_length", "longest", "left")


def padded_lines(padding: str, vocab: int = 20, fixed: int = 48) -> Batch:
    """Four token lines of LENGTHS, padded with id 0 as `padding` says, with their attention mask."""
    width = fixed if padding == "max_length" else max(LENGTHS)
    ids = torch.zeros(len(LENGTHS), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    gen = torch.Generator().manual_seed(0)
    for i, length in enumerate(LENGTHS):
        where = slice(width - length, width) if padding == "left" else slice(0, length)
        ids[i, where] = torch.randint(1, vocab, (length,), generator=gen)
        mask[i, where] = 1
    return Batch((), {"input_ids": ids, "attention_mask": mask}, None)


class MaskedCausalLM(nn.Module):
    """One self-attention layer that honours its attention mask (keys at padding masked) and a causal mask.

    Bug (mask_offset=1): `tril(ones, diagonal=1)` lets position t attend to t+1."""

    def __init__(self, vocab: int = 20, hidden: int = 16, length: int = 64, mask_offset: int = 0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.tokens = nn.Embedding(vocab, hidden)
        self.positions = nn.Parameter(0.02 * torch.randn(length, hidden))
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.register_buffer("causal", torch.tril(torch.ones(length, length), diagonal=mask_offset).bool())
        self.head = nn.Linear(hidden, vocab)

    def forward(self, input_ids, attention_mask):
        width = input_ids.shape[1]
        h = self.tokens(input_ids) + self.positions[:width]
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        allowed = self.causal[:width, :width] & attention_mask.bool()[:, None, :]
        scores = ((q @ k.transpose(1, 2)) / q.shape[-1] ** 0.5).masked_fill(~allowed, -1e9)  # finite: no NaN rows
        return self.head(h + scores.softmax(-1) @ v)


def tiny_gpt2() -> nn.Module:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=20, n_positions=64, n_embd=32, n_layer=2, n_head=4, pad_token_id=0, bos_token_id=0, eos_token_id=0
    )
    return transformers.GPT2LMHeadModel(config)


def test_unit_attended_positions_are_those_real_in_some_item():
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 0, 0]])
    assert attended_positions(mask, 4) == [0, 1]
    assert attended_positions(mask.flip(1), 4) == [2, 3]  # left padding
    assert attended_positions(None, 3) == [0, 1, 2]


@pytest.mark.parametrize("padding", PADDINGS)
def test_a_correct_gpt2_passes_every_position_probe_on_padded_lines(padding):
    """Before: on fixed-length lines, "positions [36, 37, ...] do not see themselves" (padding in every item)."""
    model, batch = tiny_gpt2(), padded_lines(padding)
    causal = causal_dependencies(model, batch, 0)
    assert causal.passed, causal.message
    assert "each of 2 attention layers sees its own position" in causal.message
    for verdict in (independent_samples(model, batch, 4), padding_ignored(model, batch)):
        assert verdict.passed, verdict.message


def test_fixed_length_padding_says_how_many_positions_it_skipped():
    model, batch = tiny_gpt2(), padded_lines("max_length")
    causal = causal_dependencies(model, batch, 0)
    assert "36 positions of 48, 12 padding in every item skipped" in causal.message
    assert causal.details["skipped"] == 12 and causal.details["rows"] == list(range(36))
    assert "94 padded positions skipped" in independent_samples(model, batch, 4).message
    assert "12 of 48 positions padding in every item" in padding_ignored(model, batch).message


@pytest.mark.parametrize("padding", PADDINGS)
def test_a_correct_masked_model_passes_and_a_mask_off_by_one_still_fails(padding):
    batch = padded_lines(padding)
    clean = causal_dependencies(MaskedCausalLM(), batch, 0)
    assert clean.passed, clean.message
    leak = causal_dependencies(MaskedCausalLM(mask_offset=1), batch, 0)
    assert not leak.passed and "sees the future" in leak.message and "diagonal=1" in leak.message


def test_a_batch_of_padding_only_is_skipped_not_judged():
    batch = padded_lines("max_length")
    batch.kwargs["attention_mask"].zero_()
    verdict = causal_dependencies(MaskedCausalLM(), batch, 0)
    assert verdict.status == "skipped" and "every position of the probe batch is padding" in verdict.message
