"""A small decoder-only transformer (nanoGPT, plain): the default charlm model."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions <= t + mask_diagonal."""

    def __init__(self, dim: int, heads: int, block_size: int, mask_diagonal: int = 0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"model.dim={dim} must be divisible by model.heads={heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        allowed = torch.ones(block_size, block_size, dtype=torch.bool).tril(diagonal=mask_diagonal)
        self.register_buffer("allowed", allowed, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=self.allowed[:t, :t])
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    """Pre-norm residual block: x + attention(norm(x)), then x + MLP(norm(x))."""

    def __init__(self, dim: int, heads: int, block_size: int, mask_diagonal: int = 0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, block_size, mask_diagonal)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharTransformer(nn.Module):
    """Token + position embeddings -> `layers` blocks -> LayerNorm -> Linear head with a bias.

    Maps token ids [B, T] (T <= block_size) to next-token logits [B, T, vocab_size]. The head has
    its own bias (not tied to the embedding) so the task can set it to the unigram prior.
    `mask_diagonal`: 0 is causal (t sees <= t); tests set 1 to plant the off-by-one mask bug.
    """

    def __init__(
        self, vocab_size: int, block_size: int, dim: int = 64, layers: int = 4, heads: int = 4, mask_diagonal: int = 0
    ) -> None:
        super().__init__()
        self.block_size = block_size
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(block_size, dim)
        self.blocks = nn.Sequential(*(Block(dim, heads, block_size, mask_diagonal) for _ in range(layers)))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab_size)
        self.apply(self._init)
        # GPT-2: residual projections scaled down with depth, so the residual stream starts small.
        for name, p in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, std=0.02 / (2 * layers) ** 0.5)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.shape[1]
        if t > self.block_size:
            raise ValueError(f"input has {t} tokens but model.block_size={self.block_size}")
        x = self.tokens(tokens) + self.positions(torch.arange(t, device=tokens.device))
        return self.head(self.norm(self.blocks(x)))
