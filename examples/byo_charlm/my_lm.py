"""A user's own language model: a GRU over characters, and overlapping windows of any text."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import Dataset

from saneloop.datasets.shakespeare import read_text


class GRULanguageModel(nn.Module):
    """Token ids [B, T] -> embedding -> GRU (causal by construction) -> logits [B, T, vocab_size]."""

    def __init__(self, vocab_size: int, dim: int = 64, layers: int = 1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.rnn = nn.GRU(dim, dim, num_layers=layers, batch_first=True)
        self.head = nn.Linear(dim, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.rnn(self.embed(tokens))
        return self.head(hidden)


class Windows(Dataset):
    """(tokens[i*stride : i*stride+T], the same shifted by one) pairs, computed on access."""

    def __init__(self, tokens: torch.Tensor, block_size: int, stride: int) -> None:
        self.tokens, self.block_size, self.stride = tokens, block_size, stride

    def __len__(self) -> int:
        return (len(self.tokens) - self.block_size - 1) // self.stride + 1

    def __getitem__(self, i: int):
        start = i * self.stride
        chunk = self.tokens[start : start + self.block_size + 1]
        return chunk[:-1], chunk[1:]


def lowercase_text(chars: int = 200_000, block_size: int = 32, stride: int = 16, test_fraction: float = 0.1):
    """The start of a text, lowercased; its distinct characters, sorted, are the vocabulary.

    Here the text is the one saneloop ships; a user would read their own file instead.
    """
    text = read_text()[:chars].lower()
    index = {c: i for i, c in enumerate(sorted(set(text)))}
    tokens = torch.tensor([index[c] for c in text])
    cut = int(len(tokens) * (1 - test_fraction))
    return Windows(tokens[:cut], block_size, stride), Windows(tokens[cut:], block_size, stride)
