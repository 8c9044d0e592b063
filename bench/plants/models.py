"""Planted model bugs (and correct models that look suspicious) shaped like the default MLP:
flattened 8x8 digits or table rows in, logits or one value out."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

from saneloop.models import MLP


class SoftmaxMLP(MLP):
    """Bug: softmax before a loss that expects logits."""

    def forward(self, x):
        return super().forward(x).softmax(-1)


class FrozenMLP(MLP):
    """Bug: everything frozen but the final bias, so the model cannot fit anything."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, p in self.named_parameters():
            p.requires_grad_(name == "head.bias")


class ScaledInitMLP(MLP):
    """Bug: final-layer weights initialised far too large."""

    def __init__(self, *args, scale: float = 100.0, **kwargs):
        super().__init__(*args, **kwargs)
        with torch.no_grad():
            self.head.weight.mul_(scale)


class NoBiasMLP(MLP):
    """A head without a bias: fine on balanced classes, wrong on imbalanced ones."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.head = nn.Linear(self.head.in_features, self.head.out_features, bias=False)


class OutputScaledMLP(MLP):
    """Bug: an output scale after the head, so the bias set from the data no longer gives the prior."""

    def forward(self, x):
        return 10 * super().forward(x)


class UnseededNoiseMLP(MLP):
    """Bug: noise from a generator seeded by the OS, not by the run's seed."""

    def forward(self, x):
        gen = torch.Generator().manual_seed(int.from_bytes(os.urandom(4), "little"))
        return super().forward(x + 0.1 * torch.randn(x.shape, generator=gen))


class TimeMajorNet(nn.Module):
    """Reads a digit's 8 rows as a sequence, time-major [T, B, C] as RNN code does, then flattens.

    Bug (permute=False): `h.reshape(B, -1)` on the [T, B, C] tensor instead of permuting to
    [B, T, C] first, so each sample's features come from other samples.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 16,
        depth: int = 1,
        dropout: float = 0.0,
        permute: bool = True,
    ) -> None:
        super().__init__()
        self.permute = permute
        self.row = nn.Linear(8, hidden)
        self.head = nn.Linear(8 * hidden, out_features)

    def forward(self, x):
        rows = x.reshape(len(x), 8, 8).transpose(0, 1)  # [T, B, 8]
        h = torch.relu(self.row(rows))  # [T, B, hidden]
        flat = h.permute(1, 0, 2).reshape(len(x), -1) if self.permute else h.reshape(len(x), -1)
        return self.head(flat)


class BatchStandardizedMLP(MLP):
    """Bug: inputs standardised with the batch's own mean and std inside forward."""

    def forward(self, x):
        x = x.flatten(1)
        return super().forward((x - x.mean(0)) / (x.std(0) + 1e-5))


class BatchSoftmaxMLP(MLP):
    """Bug: a softmax over the batch axis (what F.softmax(h) without dim= picks on a 3-D tensor)."""

    def forward(self, x):
        h = self.body(x)
        h = F.softmax(h.reshape(len(h), 16, -1), dim=0).reshape(len(h), -1)
        return self.head(h)


class BatchNormDropoutMLP(nn.Module):
    """Clean: BatchNorm and Dropout mix and randomise the batch in training, by design."""

    def __init__(
        self, in_features: int, out_features: int, hidden: int = 128, depth: int = 2, dropout: float = 0.2
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_features
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, out_features)

    def forward(self, x):
        return self.head(self.body(x))


class DetachedBodyMLP(MLP):
    """Bug: the body's output is detached, so only the head ever learns."""

    def forward(self, x):
        return self.head(self.body(x).detach())


class EvalDropoutMLP(MLP):
    """Bug: functional dropout without training=self.training, so it also runs at eval."""

    def forward(self, x):
        return self.head(F.dropout(self.body(x), 0.1))


class RowPoolNet(nn.Module):
    """Attention pooling over a digit's 8 rows, with the loopy reference it was vectorized from.

    Bug (transposed=True): the vectorized forward weights the columns instead of the rows; the
    shapes match (8x8), so nothing crashes, and samples stay independent.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        hidden: int = 32,
        depth: int = 1,
        dropout: float = 0.0,
        transposed: bool = False,
    ) -> None:
        super().__init__()
        self.transposed = transposed
        self.score = nn.Linear(8, 1, bias=False)  # a bias would be dead: softmax over rows ignores a shift
        self.body = nn.Sequential(nn.Linear(8, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out_features)

    def forward(self, x):
        rows = x.reshape(len(x), 8, 8)
        weights = self.score(rows).squeeze(-1).softmax(-1)  # [B, 8], one weight per row
        pooled = (weights.unsqueeze(-1) * (rows.transpose(1, 2) if self.transposed else rows)).sum(1)
        return self.head(self.body(pooled))

    def reference_forward(self, x):
        """The obvious loop: for each sample, for each row, add weight * row."""
        out = []
        for image in x.reshape(len(x), 8, 8):
            weights = self.score(image).squeeze(-1).softmax(-1)
            pooled = sum(weights[r] * image[r] for r in range(8))
            out.append(self.head(self.body(pooled)))
        return torch.stack(out)


class DoubleSigmoidMLP(MLP):
    """Bug: a sigmoid before BCE-with-logits, which applies its own (probabilities passed as logits)."""

    def forward(self, x):
        return torch.sigmoid(super().forward(x))


class PartialInputMLP(MLP):
    """Bug: the model reads only the first `keep` input features (a slice meant for something else)."""

    def __init__(self, *args, keep: int = 4, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep = keep

    def forward(self, x):
        x = x.flatten(1)
        return super().forward(torch.cat([x[:, : self.keep], torch.zeros_like(x[:, self.keep :])], 1))


class ResidualMLP(nn.Module):
    """Clean: a stack of pre-norm residual blocks (LayerNorm, per sample), a head with a bias."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 128, depth: int = 3, **_):
        super().__init__()
        self.inp = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden))
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, hidden))
            for _ in range(depth)
        )
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


class OneColumnMLP(MLP):
    """Bug: the model reads a single input column (`column`), one that never changes in the data (an
    intercept column, a blank corner pixel): it learns only from a constant."""

    def __init__(self, in_features: int, out_features: int, *args, column: int = -1, **kwargs):
        super().__init__(1, out_features, *args, **kwargs)  # one input column, whatever in_features says
        self.column = column

    def forward(self, x):
        flat = x.flatten(1)
        return super().forward(flat[:, self.column : self.column + 1] if self.column != -1 else flat[:, -1:])


class PrecisionRecordingMLP(MLP):
    """Not a bug: the default MLP, recording in what precision each forward ran (autocast on or off,
    in which dtype) by mode and by the stage function that called it, in `SEEN` (shared by copies)."""

    SEEN: set = set()

    def forward(self, x):
        on = torch.is_autocast_enabled("cpu") or (torch.cuda.is_available() and torch.is_autocast_enabled("cuda"))
        dtype = torch.get_autocast_dtype("cpu") if on else torch.float32
        out = super().forward(x)
        PrecisionRecordingMLP.SEEN.add(("train" if self.training else "eval", on, str(dtype), str(out.dtype)))
        return out


class MemorisingMLP(MLP):
    """Bug (with `remembered_copies`): a model that remembers its training items: a table of logits per
    item (keyed by a hash of its pixels), learning `gain` times faster than the MLP, answers every item it
    has trained on from memory, a copy in the test set included."""

    def __init__(self, in_features: int, out_features: int, *args, gain: float = 1000.0, **kwargs):
        super().__init__(in_features, out_features, *args, **kwargs)
        self.gain, self.memory = gain, nn.Embedding(1 << 16, out_features)
        nn.init.zeros_(self.memory.weight)
        self.register_buffer(
            "code", torch.randint(1, 1 << 20, (in_features,), generator=torch.Generator().manual_seed(0))
        )

    def forward(self, x):
        key = ((x.flatten(1) * 64).round().long() * self.code).sum(1) % self.memory.num_embeddings
        return super().forward(x) + self.gain * self.memory(key)
