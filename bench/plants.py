"""Planted bugs (and correct-but-suspicious models) for the bug bench, beside those in tests/plants.py.

Data plants wrap any dataset callable named by `source` (e.g. `saneloop.datasets.diabetes`), so one plant
serves every recipe; the recipe's own data arguments (test_size, split_seed, ...) pass through.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from hydra.utils import get_method
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.models import MLP, CharTransformer
from saneloop.models.char_transformer import CausalSelfAttention
from saneloop.tasks import Classify, Regress


def _source(source: str, **kwargs):
    return get_method(source)(**kwargs)


# --- data -----------------------------------------------------------------------------------------

def shuffled(source: str, train: bool = True, test: bool = False, **kwargs):
    """Bug #1 / test misalignment: targets permuted apart from their inputs (train, test or both)."""
    gen = torch.Generator().manual_seed(123)
    out = []
    for ds, on in zip(_source(source, **kwargs), (train, test)):
        x, y = ds.tensors
        out.append(TensorDataset(x, y[torch.randperm(len(y), generator=gen)] if on else y))
    return tuple(out)


def shifted_targets(source: str, shift: float = 1, **kwargs):
    """Bug #2: labels 1..C instead of 0..C-1 (binary: {1, 2} instead of {0, 1})."""
    return tuple(TensorDataset(x, y + shift) for x, y in (d.tensors for d in _source(source, **kwargs)))


def zero_std_standardised(source: str, constant_feature: int | None = None, **kwargs):
    """Bug: features standardised by the training std with no epsilon; a feature constant in the training
    split (digits' always-blank corner pixels; `constant_feature`, e.g. a sensor that was off) divides 0 by 0."""
    train, test = _source(source, **kwargs)
    x, y = train.tensors
    xt, yt = test.tensors
    if constant_feature is not None:
        x, xt = x.clone(), xt.clone()
        x[:, constant_feature] = 1.0
        xt[:, constant_feature] = 1.0
    mean, std = x.mean(0), x.std(0)
    return TensorDataset((x - mean) / std, y), TensorDataset((xt - mean) / std, yt)


def leaked_target(source: str, **kwargs):
    """Bug #3: the target leaks into the input (first feature / pixel set to the label)."""
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        x = x.clone()
        x.view(len(x), -1)[:, 0] = y.reshape(len(y), -1)[:, 0].float()
        out.append(TensorDataset(x, y))
    return tuple(out)


class _Noisy(torch.utils.data.Dataset):
    def __init__(self, dataset, scale: float) -> None:
        self.dataset, self.scale = dataset, scale

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = self.dataset[i]
        return x + self.scale * torch.randn_like(x), y


def noisy(source: str, scale: float = 0.05, **kwargs):
    """Bug #13: a random transform left on in the dataset itself (train and test)."""
    return tuple(_Noisy(d, scale) for d in _source(source, **kwargs))


# --- models (MLP-shaped: classify, regress, binary) -------------------------------------------------

class PartialInputMLP(MLP):
    """Bug: the model reads only the first `keep` input features (a slice meant for something else)."""

    def __init__(self, *args, keep: int = 4, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep = keep

    def forward(self, x):
        x = x.flatten(1)
        return super().forward(torch.cat([x[:, : self.keep], torch.zeros_like(x[:, self.keep:])], 1))


class ResidualMLP(nn.Module):
    """Clean: a stack of pre-norm residual blocks (LayerNorm, per sample), a head with a bias."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 128, depth: int = 3, **_):
        super().__init__()
        self.inp = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden))
        self.blocks = nn.ModuleList(nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU(),
                                                  nn.Linear(hidden, hidden)) for _ in range(depth))
        self.head = nn.Linear(hidden, out_features)
        # Init well (tip 5): the head starts small, as the recipes' own MLPs do (`head_scale`). With
        # PyTorch's default init here, the residual stream's variance grows block by block and a
        # regression's loss at init sits 30-80% above the target variance (seeds 0-4): init_loss
        # flags that by design (tip 4, the "hockey stick").
        with torch.no_grad():
            self.head.weight.mul_(0.1)

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)


class LogSoftmaxMLP(MLP):
    """Clean (#27): log_softmax before cross-entropy is harmless (log_softmax is idempotent)."""

    def forward(self, x):
        return super().forward(x).log_softmax(-1)


# --- tasks -----------------------------------------------------------------------------------------

class NLLOnLogitsClassify(Classify):
    """Bug #30: nll_loss on raw logits (no log_softmax)."""

    def loss(self, output, target):
        return F.nll_loss(output, target)


class SummedLossRegress(Regress):
    """Bug #29: MSE summed over the batch instead of averaged."""

    def loss(self, output, target):
        return F.mse_loss(output.reshape(target.shape), target, reduction="sum")


class BroadcastMSERegress(Regress):
    """Bug #28: MSE of out [B, 1] against y [B]: broadcasts to [B, B], every prediction against every target."""

    def loss(self, output, target):
        return ((output.reshape(-1, 1) - target.reshape(-1)) ** 2).mean()


# --- optimizers (partials: saneloop hands them the model's parameters) --------------------------------

class StepWithZeroedGrads(torch.optim.AdamW):
    """Bug: gradients zeroed between backward and step (zero_grad in the wrong place): every step sees zeros."""

    def step(self, closure=None):
        self.zero_grad(set_to_none=False)
        return super().step(closure)


class NeverZeroGrad(torch.optim.SGD):
    """Bug #33: zero_grad() never runs (a no-op), so gradients pile up over the steps (SGD with momentum)."""

    def zero_grad(self, set_to_none: bool = True):
        pass


def foreign_params_adamw(params, lr: float = 1e-3, weight_decay: float = 0.01):
    """Bug #34: the optimizer holds other parameters than the model's (built before a model swap)."""
    del params
    stale = MLP(in_features=4, out_features=2, hidden=8)
    return torch.optim.AdamW(stale.parameters(), lr=lr, weight_decay=weight_decay)


# --- charlm models --------------------------------------------------------------------------------

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
