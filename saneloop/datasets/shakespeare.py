"""Tiny Shakespeare (public domain, 1.1 MB, 65 characters), shipped gzipped inside saneloop."""

from __future__ import annotations

import gzip
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

TEXT = Path(__file__).resolve().parent / "data" / "tinyshakespeare.txt.gz"
# Every character of the text, in sorted order: token id i stands for VOCAB[i].
VOCAB = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def read_text() -> str:
    with gzip.open(TEXT, "rt", encoding="utf-8") as handle:
        return handle.read()


def encode(text: str, vocab: str) -> torch.Tensor:
    index = {c: i for i, c in enumerate(vocab)}
    unknown = sorted(set(text) - index.keys())
    if unknown:
        raise ValueError(f"characters {unknown!r} are not in data.vocab; add them to it (and raise vocab_size)")
    return torch.tensor([index[c] for c in text], dtype=torch.long)


def windows(tokens: torch.Tensor, block_size: int) -> TensorDataset:
    """Non-overlapping (tokens[t : t+T], tokens[t+1 : t+T+1]) pairs: targets are inputs shifted by one."""
    count = (len(tokens) - 1) // block_size
    if count < 1:
        raise ValueError(f"the text ({len(tokens)} characters) is shorter than data.block_size={block_size} + 1")
    starts = torch.arange(count) * block_size
    offsets = torch.arange(block_size)
    inputs = tokens[starts[:, None] + offsets]
    return TensorDataset(inputs, tokens[starts[:, None] + offsets + 1])


def tiny_shakespeare(
    block_size: int = 64, test_fraction: float = 0.1, vocab: str = VOCAB
) -> tuple[TensorDataset, TensorDataset]:
    """Train on the first 90% of the text, test on the last 10% (no window crosses the cut)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"data.test_fraction must be in (0, 1), got {test_fraction}")
    tokens = encode(read_text(), vocab)
    cut = int(len(tokens) * (1 - test_fraction))
    return windows(tokens[:cut], block_size), windows(tokens[cut:], block_size)
