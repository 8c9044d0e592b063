"""Planted bugs of issues 22 and 20, written before the gates that should see them changed.

Issue 22: a split made after sorting by target (test holds classes, or a target range, training never
has), and a label written as one token at the end of each token sequence (a different position in each
padded item). Issue 20 (fine-tuning, on bench/zoo/finetune.py's pretrained models): a trained head that
a load hook re-initialises, and a model with nothing left to train. The Hugging Face plants (a causal
leak on fixed-length padded lines, the pad token as EOS) are in hf.py.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import TensorDataset

from saneloop.models import MLP

from .data import _source

# --- issue 22: splits and leaks ------------------------------------------------------------------------


def sorted_split(source: str, test_fraction: float = 0.2, **kwargs):
    """Bug: the data sorted by target (a folder per class, a table ordered by value), then split without
    shuffling: the last `test_fraction` is test, so it holds the last classes (or the largest targets) only,
    none of which training has."""
    train, test = _source(source, **kwargs)
    x = torch.cat([train.tensors[0], test.tensors[0]])
    y = torch.cat([train.tensors[1], test.tensors[1]])
    order = torch.argsort(y.reshape(len(y), -1)[:, 0], stable=True)
    x, y = x[order], y[order]
    cut = int(len(y) * (1 - test_fraction))
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


def label_token_at_end(
    n: int = 4000, classes: int = 4, vocab: int = 16, length: int = 32, share: float = 0.08, test_size: int = 800
):
    """Bug #3 for text: token sequences of 8-30 tokens (ids 1..vocab-1, padded with 0 to `length`) whose
    class shows weakly (its token fills a `share` of the positions), and the label written as one more token
    (id vocab + label) after the last real one: at another position in every item, so no fixed position
    holds it. The model's vocabulary is vocab + classes."""
    rng = np.random.default_rng(22)
    y = rng.integers(0, classes, n)
    tokens = np.zeros((n, length), dtype=np.int64)
    for i in range(n):
        size = int(rng.integers(8, length - 1))
        row = rng.integers(1, vocab, size)
        row[rng.random(size) < share] = 1 + y[i]
        tokens[i, :size], tokens[i, size] = row, vocab + y[i]
    x, t = torch.from_numpy(tokens), torch.from_numpy(y)
    return TensorDataset(x[test_size:], t[test_size:]), TensorDataset(x[:test_size], t[:test_size])


# --- issue 20: fine-tuning -----------------------------------------------------------------------------


class ReinitAfterLoadMLP(MLP):
    """Bug: a trained head re-initialised by accident: the model's `load_state_dict` runs the init meant
    for a fresh model after loading (a helper called in the wrong order), so the head init_from loaded is
    random again while the report says it loaded."""

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=strict, assign=assign)
        self.head.reset_parameters()
        return result


def reinit_after_load_mlp(name: str, hidden: int = 128) -> ReinitAfterLoadMLP:
    """The pretrained digits MLP's weights written for init_from (bench/zoo/finetune.py), and the model
    class with the accident."""
    from bench.zoo.finetune import checkpoint_digits_mlp

    checkpoint_digits_mlp(name, hidden=hidden)
    return ReinitAfterLoadMLP(64, 10, hidden=hidden)


def all_frozen_mlp(hidden: int = 128) -> MLP:
    """Bug: everything frozen (a `requires_grad_(False)` meant for the body applied to the whole model):
    the pretrained model cannot learn anything on the new data."""
    from bench.zoo.finetune import digits_mlp

    model = digits_mlp(hidden=hidden)
    model.requires_grad_(False)
    return model
