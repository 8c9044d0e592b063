"""Planted bugs in sequence models (causal masks, heads, norms, embeddings), and clean controls."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saneloop.models import CharTransformer
from saneloop.models.char_transformer import CausalSelfAttention


class TinyCausalLM(nn.Module):
    """Token and position embeddings, one masked self-attention layer, a linear head per position.

    Bug (mask_offset=1): `tril(ones, diagonal=1)` lets position t attend to t+1.
    """

    def __init__(
        self, out_features: int, hidden: int = 32, vocab: int = 8, length: int = 12, mask_offset: int = 0
    ) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab, hidden)
        self.positions = nn.Parameter(0.02 * torch.randn(length, hidden))
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.register_buffer("mask", torch.tril(torch.ones(length, length), diagonal=mask_offset).bool())
        self.head = nn.Linear(hidden, out_features)

    def forward(self, tokens):
        h = self.tokens(tokens) + self.positions[: tokens.shape[1]]
        q, k, v = self.qkv(h).chunk(3, dim=-1)
        scores = (q @ k.transpose(1, 2)) / q.shape[-1] ** 0.5
        T = tokens.shape[1]
        scores = scores.masked_fill(~self.mask[:T, :T], float("-inf"))
        return self.head(h + scores.softmax(-1) @ v)


class LeakyMaskTransformer(CharTransformer):
    """Bug: the causal mask is off by one, so position t also attends to t+1 (the token it must predict)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, mask_diagonal=1, **kwargs)


class LastTokenTransformer(CharTransformer):
    """Bug for the language-model task: only the last position's logits [B, V], not [B, T, V]."""

    def forward(self, tokens):
        return super().forward(tokens)[:, -1]


class SoftmaxCharTransformer(CharTransformer):
    """Bug #26: probabilities (softmax) passed to a loss that expects logits."""

    def forward(self, tokens):
        return super().forward(tokens).softmax(-1)


class ScaledHeadCharTransformer(CharTransformer):
    """Bug #24: the head's weights initialised far too large (std 1 instead of 0.02)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with torch.no_grad():
            self.head.weight.mul_(50.0)


class _HeadsMixedAttention(CausalSelfAttention):
    """Bug #15 (within a sample): heads [B, H, T, d] reshaped to [B, T, D] without the transpose."""

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.allowed[:t, :t])
        return self.proj(y.reshape(b, t, d))


class HeadsMixedCharTransformer(CharTransformer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for block in self.blocks:
            old = block.attn
            new = _HeadsMixedAttention(old.qkv.in_features, old.heads, old.allowed.shape[0])
            new.load_state_dict(old.state_dict())
            block.attn = new


class _BatchNorm(nn.Module):
    """Normalises over the batch axis (dim 0) where LayerNorm normalises over features."""

    def forward(self, x):
        return (x - x.mean(0)) / (x.std(0) + 1e-5)


class BatchNormedCharTransformer(CharTransformer):
    """Bug #8: the final norm normalises over the batch axis."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm = _BatchNorm()


class PositionOnlyCharTransformer(CharTransformer):
    """Bug: the token embedding is never added: the model sees only positions (ignores its input)."""

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.positions(torch.arange(t, device=tokens.device)).expand(len(tokens), t, -1)
        return self.head(self.norm(self.blocks(x)))


class DetachedEmbeddingCharTransformer(CharTransformer):
    """Bug #35: the token embedding is detached, so it never learns."""

    def forward(self, tokens):
        t = tokens.shape[1]
        x = self.tokens(tokens).detach() + self.positions(torch.arange(t, device=tokens.device))
        return self.head(self.norm(self.blocks(x)))


class TiedCharTransformer(CharTransformer):
    """Clean: the head's weight tied to the token embedding (GPT-2 style); the head keeps its own bias."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head.weight = self.tokens.weight
