"""Padded sequences: batches of different lengths joined into one tensor, padding kept apart.

A padding collator pads each batch to its own longest sequence, so per-position outputs and targets
of two batches differ in length. Joining them pads the shorter ones at the end: targets with the
ignore index (they count nowhere), outputs with zeros (their targets are ignored).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # what Hugging Face collators and torch's cross-entropy use for "not a target"


def cat_padded(tensors: Sequence[torch.Tensor], value: float = 0) -> torch.Tensor:
    """torch.cat along dim 0, after padding every other dim at its end to the largest size seen."""
    if not tensors:
        return torch.empty(0)
    shapes = {tuple(t.shape[1:]) for t in tensors}
    if len(shapes) == 1 or len({t.dim() for t in tensors}) > 1:
        return torch.cat(list(tensors))
    most = [max(sizes) for sizes in zip(*shapes)]
    return torch.cat([pad_to(t, most, value) for t in tensors])


def pad_to(tensor: torch.Tensor, sizes: Sequence[int], value: float = 0) -> torch.Tensor:
    """`tensor` [N, ...] padded at the end of each dim after the first to `sizes`."""
    pads: list[int] = []
    for have, want in reversed(list(zip(tensor.shape[1:], sizes))):
        pads += [0, int(want) - int(have)]
    return F.pad(tensor, pads, value=value) if any(pads) else tensor


def stack_padded(items: Sequence[torch.Tensor], value: float) -> torch.Tensor:
    """torch.stack of 1-D (or same-rank) tensors of different lengths, padded at the end with `value`."""
    return cat_padded([t.unsqueeze(0) for t in items], value)


def attended_positions(mask: Optional[torch.Tensor], length: int) -> list[int]:
    """The positions of a batch [B, T] where at least one item is real (`mask` True, attention mask 1): a
    position that is padding in every item holds nothing for a probe to read. All T without a mask, or with
    a mask of another length."""
    if mask is None or mask.dim() != 2 or mask.shape[1] != length:
        return list(range(length))
    return mask.bool().any(0).nonzero().flatten().tolist()
