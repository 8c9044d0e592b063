"""The zoo's sequence models: recurrent classifiers and regressors (batch-first or time-major), a
transformer encoder over tokens, and recurrent character language models."""

from __future__ import annotations

import torch
from torch import nn


def _rnn(cell: str, in_size: int, hidden: int, layers: int, batch_first: bool) -> nn.Module:
    if cell not in ("gru", "lstm"):
        raise ValueError(f"model.cell must be gru or lstm, got {cell!r}")
    kind = nn.GRU if cell == "gru" else nn.LSTM
    return kind(in_size, hidden, num_layers=layers, batch_first=batch_first)


class RNNNet(nn.Module):
    """Sequences [B, T, C] -> a GRU or LSTM -> the last step's (`pool=last`) or mean hidden state -> a head.

    `batch_first=False` runs the recurrent layer time-major, as most RNN code does: the input is
    transposed to [T, B, C] first, and the output back."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 32,
        cell: str = "gru",
        batch_first: bool = True,
        layers: int = 1,
        pool: str = "last",
    ) -> None:
        super().__init__()
        self.batch_first, self.pool = batch_first, pool
        self.rnn = _rnn(cell, in_features, hidden, layers, batch_first)
        self.head = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_first:
            h, _ = self.rnn(x)  # [B, T, H]
        else:
            h, _ = self.rnn(x.transpose(0, 1))  # [T, B, H]
            h = h.transpose(0, 1)
        summary = h[:, -1] if self.pool == "last" else h.mean(1)
        return self.head(summary)


class TokenTransformer(nn.Module):
    """Token ids [B, T] -> embeddings + learned positions -> a transformer encoder (dropout 0.1, as
    PyTorch's default) -> mean over positions -> a head."""

    def __init__(
        self, vocab_size: int, out_features: int, hidden: int = 32, layers: int = 2, heads: int = 4, max_len: int = 64
    ) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, hidden)
        self.positions = nn.Embedding(max_len, hidden)
        layer = nn.TransformerEncoderLayer(hidden, heads, 4 * hidden, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)
        self.head = nn.Linear(hidden, out_features)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        h = self.tokens(tokens) + self.positions(torch.arange(t, device=tokens.device))
        return self.head(self.norm(self.encoder(h)).mean(1))


class CharRNN(nn.Module):
    """A recurrent language model: token ids [B, T] -> embedding -> GRU/LSTM -> next-token logits [B, T, V].

    Causal by construction (a recurrence only looks back); `batch_first=False` runs it time-major."""

    def __init__(
        self, vocab_size: int, hidden: int = 64, cell: str = "gru", batch_first: bool = True, layers: int = 1
    ) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.embed = nn.Embedding(vocab_size, hidden)
        self.rnn = _rnn(cell, hidden, hidden, layers, batch_first)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        if self.batch_first:
            h, _ = self.rnn(x)
        else:
            h, _ = self.rnn(x.transpose(0, 1))
            h = h.transpose(0, 1)
        return self.head(h)
