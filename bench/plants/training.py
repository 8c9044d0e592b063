"""Planted bugs in how training runs (issue 14's gates): wrong train/eval modes, a mask that training learns
around, samples that mix once trained, data orders that repeat, replicas that drift apart."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Sampler

from saneloop.models import MLP, CharTransformer
from saneloop.models.char_transformer import CausalSelfAttention

# --- models: modes ---------------------------------------------------------------------------------


class EvalLockedMLP(MLP):
    """Bug: built (loaded) in eval mode, with a train() override that does not reach the children, so
    Dropout stays off in training: the model handed over in eval mode trains in it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        nn.Module.train(self, False)  # as from_pretrained hands a model over: every module in eval

    def train(self, mode: bool = True):
        self.training = mode  # super().train(mode) forgotten
        return self


class _StuckBatchNorm(nn.BatchNorm1d):
    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, True, 0.1, self.eps)


class StuckBatchNormMLP(MLP):
    """Bug: BatchNorm called with training=True whatever the mode: in eval it still normalises by the
    batch and moves its running statistics."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.body.insert(2, _StuckBatchNorm(self.body[1].out_features))


class _GradientBlowup(torch.autograd.Function):
    """Identity forward; a backward that multiplies the gradient by 1e12 (a division by a norm that rounds to
    almost nothing in fp16): in fp16 that gradient overflows at any loss scale."""

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * 1e12


class Fp16OverflowMLP(MLP):
    """Bug: under fp16 autocast (CUDA), the hidden layer's backward overflows fp16 at every loss scale, so the
    gradient scaler skips every step and its scale collapses; in full precision (every gate before `train`)
    the model is a plain MLP."""

    def forward(self, x):
        if torch.is_autocast_enabled("cuda") and torch.is_grad_enabled():
            return self.head(self.body[1:](_GradientBlowup.apply(self.body[0](x))))
        return super().forward(x)


class ValidateInForwardMLP(MLP):
    """Bug: a validate step inside forward (every `every` training calls) that switches to eval and
    never switches back: from then on Dropout is off in training."""

    def __init__(self, *args, every: int = 30, **kwargs):
        super().__init__(*args, **kwargs)
        self.every, self.calls = every, 0

    def forward(self, x):
        if self.training and torch.is_grad_enabled():
            self.calls += 1
            if self.calls % self.every == 0:
                self.eval()  # validate(); the .train() after it is missing
        return super().forward(x)


class _TestTimeBatchNorm(nn.BatchNorm1d):
    def forward(self, x):
        adapt = not self.training and len(x) > self.adapt_above
        return F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, self.training or adapt, 0.1, self.eps
        )


class TestTimeBatchNormMLP(MLP):
    """Bug: BatchNorm re-estimated on test batches larger than any training batch (test-time adaptation
    left on): the evaluation uses test-batch statistics and moves the running statistics."""

    def __init__(self, *args, adapt_above: int = 128, **kwargs):
        super().__init__(*args, **kwargs)
        norm = _TestTimeBatchNorm(self.body[1].out_features)
        norm.adapt_above = adapt_above
        self.body.insert(2, norm)


# --- models: a mask training gets around ------------------------------------------------------------


class _AdditiveMaskAttention(CausalSelfAttention):
    """Causal attention by an additive mask on the scores: exp(-110) underflows to exactly 0 at init, but
    it is a finite number that trained scores can outgrow (minGPT #75: -1e4 against scores of -15,000)."""

    mask_value = -110.0

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        scores = (q @ k.transpose(-1, -2)) * self.scale
        scores = scores + self.mask_value * (~self.allowed[:t, :t]).to(scores.dtype)
        y = scores.softmax(-1) @ v
        return self.proj(y.transpose(1, 2).reshape(b, t, d))


class AdditiveMaskCharTransformer(CharTransformer):
    """Bug (minGPT #75): an additive mask too small for the scores training reaches, and a learned
    attention temperature that lets them grow; causal at init, not after training."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for block in self.blocks:
            old = block.attn
            new = _AdditiveMaskAttention(old.qkv.in_features, old.heads, old.allowed.shape[0])
            new.load_state_dict(old.state_dict(), strict=False)
            new.scale = nn.Parameter(torch.tensor(float(old.qkv.in_features // old.heads) ** -0.5))
            block.attn = new


# --- loaders: data order ---------------------------------------------------------------------------


class ReseededSampler(Sampler):
    """Bug: a sampler that seeds its generator inside __iter__: the same permutation every epoch."""

    def __init__(self, length: int, seed: int = 0) -> None:
        self.length, self.seed = length, seed

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return iter(torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed)).tolist())


class CountingSampler(ReseededSampler):
    """A sampler with its own epoch counter (seed + epoch, advanced in __iter__): a new order every
    epoch, but the counter is not in any checkpoint, so a resumed run starts again at epoch 0's order."""

    epoch = 0

    def __iter__(self):
        order = torch.randperm(self.length, generator=torch.Generator().manual_seed(self.seed + self.epoch))
        self.epoch += 1
        return iter(order.tolist())


def _loader_with(sampler_type, dataset, **kwargs) -> DataLoader:
    kwargs.pop("shuffle", None)
    return DataLoader(dataset, sampler=sampler_type(len(dataset)), **kwargs)


def fixed_order_loader(dataset, **kwargs) -> DataLoader:
    """loader.train._target_: a DataLoader over ReseededSampler (bug: one order every epoch)."""
    return _loader_with(ReseededSampler, dataset, **kwargs)


def counting_order_loader(dataset, **kwargs) -> DataLoader:
    """loader.train._target_: a DataLoader over CountingSampler (bug: a resume replays epoch 0's order)."""
    return _loader_with(CountingSampler, dataset, **kwargs)


# --- optimizers: replicas ----------------------------------------------------------------------------


def rank_scaled_adamw(params, lr: float = 1e-3, weight_decay: float = 0.01):
    """Bug: a learning rate that depends on the process (lr x (1 + rank)): the replicas drift apart."""
    rank = int(os.environ.get("RANK", "0"))
    return torch.optim.AdamW(params, lr=lr * (1 + rank), weight_decay=weight_decay)


class ZeroInitBatchMixMLP(MLP):
    """Bug: a batch-context term behind a learned gate that starts at zero (ReZero-style): the samples are
    independent at init, and mix once training moves the gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mix = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        h = self.body(x)
        return self.head(h + self.mix * h.mean(0, keepdim=True))
