"""Planted bugs for the second wave of gates (issue 14): splits that overlap or differ, targets that
leak, wrong modes, data orders that repeat, accumulation that mis-weighs, replicas that drift, a mask
that training gets around; and the clean counterparts the tests need."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Sampler, TensorDataset

from saneloop.datasets import tiny_shakespeare
from saneloop.datasets.diabetes import load_diabetes_arrays
from saneloop.datasets.digits import seeded_split
from saneloop.datasets.shakespeare import VOCAB, encode, read_text, windows
from saneloop.models import MLP, CharTransformer
from saneloop.models.char_transformer import CausalSelfAttention
from saneloop.tasks import Classify

from .data import _source

# --- data: splits ---------------------------------------------------------------------------------


def resplit(source: str, **kwargs):
    """Bug #5: the split made twice: the test set comes from a second random split (another seed), so
    about as many test items as the training share are training items too."""
    train, _ = _source(source, **kwargs)
    seed = kwargs.pop("split_seed", 0)
    _, test = _source(source, split_seed=seed + 1, **kwargs)
    return train, test


def resplit_windows(block_size: int = 64, test_fraction: float = 0.1, vocab: str = VOCAB):
    """Bug #5 for text: windows shuffled and split twice (two seeds): test windows are training windows."""
    tokens = encode(read_text(), vocab)
    data = windows(tokens, block_size)
    x, y = data.tensors
    cut = int(len(x) * (1 - test_fraction))
    first = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    second = torch.randperm(len(x), generator=torch.Generator().manual_seed(1))
    return TensorDataset(x[first[:cut]], y[first[:cut]]), TensorDataset(x[second[cut:]], y[second[cut:]])


def near_copies(source: str, fraction: float = 0.1, noise: float = 0.01, **kwargs):
    """Bug: re-encoded copies of training items in the test set: a `fraction` of test items replaced by
    training items plus noise of `noise` x each feature's standard deviation."""
    train, test = _source(source, **kwargs)
    (x, y), (xt, yt) = train.tensors, test.tensors
    count = max(1, int(fraction * len(xt)))
    gen = torch.Generator().manual_seed(7)
    picks = torch.randperm(len(x), generator=gen)[:count]
    xt, yt = xt.clone(), yt.clone()
    xt[:count] = x[picks] + noise * x.std(0) * torch.randn(x[picks].shape, generator=gen)
    yt[:count] = y[picks]
    return train, TensorDataset(xt, yt)


def test_scaled(source: str, scale: float = 16.0, **kwargs):
    """Bug: the test split skipped a scaling step (digits: pixels 0..16, training 0..1)."""
    train, test = _source(source, **kwargs)
    xt, yt = test.tensors
    return train, TensorDataset(xt * scale, yt)


def raw_test_units(test_size: int = 111, split_seed: int = 0, target_shift: float = 0.0, target_scale: float = 1.0):
    """Bug: diabetes with the training split standardised and the test split left in clinical units."""
    features, targets = load_diabetes_arrays()
    train_idx, test_idx = seeded_split(len(targets), test_size, split_seed)
    x = torch.from_numpy(features).float()
    y = torch.from_numpy((targets - target_shift) / target_scale).float()
    mean, std = x[train_idx].mean(0), x[train_idx].std(0, correction=0)
    return TensorDataset((x[train_idx] - mean) / std, y[train_idx]), TensorDataset(x[test_idx], y[test_idx])


def other_vocab_test(block_size: int = 64, test_fraction: float = 0.1, vocab: str = VOCAB):
    """Bug: the test text encoded with another vocab (the characters in another order): other ids."""
    train, _ = tiny_shakespeare(block_size=block_size, test_fraction=test_fraction, vocab=vocab)
    text = read_text()
    test_text = text[int(len(text) * (1 - test_fraction)) :]
    return train, windows(encode(test_text, vocab[::-1]), block_size)


def onehot_leak(source: str, **kwargs):
    """Bug: the label leaks spread over features: pixel c is 1 exactly when the label is c (a one-hot
    label column kept among the inputs). No single pixel predicts the label; a linear layer does."""
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        x = x.clone()
        flat = x.view(len(x), -1)
        classes = int(y.max()) + 1
        flat[:, :classes] = F.one_hot(y.long(), classes).float()
        out.append(TensorDataset(x, y))
    return tuple(out)


def ignored_targets(source: str, **kwargs):
    """Targets with ignore_index -100 (not a bug: padding, prompt tokens): every other example of the
    first half of the training set, so micro-batches hold uneven numbers of targets."""
    train, test = _source(source, **kwargs)
    x, y = train.tensors
    y = y.clone()
    idx = torch.arange(len(y))
    y[(idx < len(y) // 2) & (idx % 2 == 0)] = -100
    return TensorDataset(x, y), test


class IgnoringClassify(Classify):
    """Classification whose targets may hold -100 (ignored: cross-entropy's ignore_index), averaged per batch."""

    def target_problems(self, targets):
        return super().target_problems(targets[targets != -100])

    def _counts(self, targets):
        return super()._counts(targets[targets != -100])

    def metrics(self, outputs, targets):
        keep = targets != -100
        return super().metrics(outputs[keep], targets[keep])


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


def sum_leak(source: str, **kwargs):
    """Bug: the target is computed from the inputs by a fixed rule (two columns that add up to it, as a
    total kept beside its parts): no single column predicts it, their sum does exactly."""
    gen = torch.Generator().manual_seed(11)
    out = []
    for ds in _source(source, **kwargs):
        x, y = ds.tensors
        x, part = x.clone(), torch.randn(len(y), generator=gen) * y.std()  # as spread as the target
        x[:, 0], x[:, 1] = y / 2 + part, y / 2 - part
        out.append(TensorDataset(x, y))
    return tuple(out)


class ZeroInitBatchMixMLP(MLP):
    """Bug: a batch-context term behind a learned gate that starts at zero (ReZero-style): the samples are
    independent at init, and mix once training moves the gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mix = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        h = self.body(x)
        return self.head(h + self.mix * h.mean(0, keepdim=True))
