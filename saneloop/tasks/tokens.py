"""Next-token prediction over padded windows: what `CharLM` measures, position by position.

Two conventions line the logits up with the targets. saneloop's own (and nanoGPT's): items are
(tokens[t : t+T], tokens[t+1 : t+T+1]), so output t is scored against target t. Hugging Face's
causal LMs: `labels` equal `input_ids` and the model shifts them inside, so output t is scored
against label t+1 (`task.shift_labels=true`). A label equal to the ignore index (-100, padding)
counts nowhere.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from .base import TargetProblem

_MAX_LISTED = 20  # how many offending sample indices a message names


def aligned(output: torch.Tensor, targets: torch.Tensor, shift: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, targets) position by position: with `shift`, output t against target t+1."""
    if not shift:
        return output, targets
    return output[:, :-1], targets[:, 1:]


def scored(targets: torch.Tensor, shift: bool) -> torch.Tensor:
    """The targets some output is scored against ([B, T-1] with `shift`)."""
    return targets[:, 1:] if shift and targets.dim() == 2 else targets


def shift_problems(inputs: torch.Tensor, targets: torch.Tensor, kept: torch.Tensor, shift: bool) -> list[TargetProblem]:
    """Targets must be the inputs shifted by one (saneloop's convention) or equal them (`shift`: the
    model shifts); ignored positions do not count. Names the windows that break it."""
    if inputs.shape != targets.shape or inputs.dim() != 2 or inputs.shape[1] < 2:
        return [
            TargetProblem(
                f"inputs {list(inputs.shape[1:])} and targets {list(targets.shape[1:])} per item; a language "
                "model expects two token windows of the same length T >= 2",
                [],
            )
        ]
    same = _share(targets == inputs, kept)
    next_ = _share(targets[:, :-1] == inputs[:, 1:], kept[:, :-1])
    good = same if shift else next_
    if float(good.mean()) >= 0.5:
        return []
    wrong = (good < 0.5).nonzero().flatten()[:_MAX_LISTED].tolist()
    return [TargetProblem(_why_misaligned(float(same.mean()), float(next_.mean()), shift), wrong)]


def _share(hits: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """Per window, the share of counted positions where `hits` holds (windows with none count as 1)."""
    counted = kept.sum(1)
    return torch.where(counted > 0, (hits & kept).sum(1) / counted.clamp_min(1), torch.ones_like(counted)).double()


def _why_misaligned(same: float, next_: float, shift: bool) -> str:
    if shift and next_ > 0.9:
        return (
            f"labels are already the next tokens (label[t] == input[t+1] at {next_:.0%} of positions), and "
            "task.shift_labels=true shifts them again, as a Hugging Face causal LM does inside: labels "
            "shifted twice, so the model learns to predict two tokens ahead. Give labels = input_ids (a "
            "copy, -100 at padding; DataCollatorForLanguageModeling(mlm=False) does), or set "
            "task.shift_labels=false if the labels are meant to be pre-shifted"
        )
    if shift:
        return f"only {same:.0%} of labels equal the input tokens; with task.shift_labels=true labels = input_ids"
    if same > 0.9:
        return (
            f"targets equal the inputs at {same:.0%} of positions: the model would learn to copy its input. "
            "Targets must be the next token: inputs = tokens[i : i+T], targets = tokens[i+1 : i+T+1]; or, "
            "if the model shifts labels itself (Hugging Face causal LMs), set task.shift_labels=true"
        )
    return (
        f"only {next_:.0%} of targets are the next input token (target[t] == input[t+1]); targets must "
        "be the inputs shifted by one"
    )


def prefix_floor(inputs: torch.Tensor, targets: torch.Tensor, kept: torch.Tensor) -> float:
    """Mean entropy of the target among windows whose prefixes up to t are identical (counted positions).

    A causal model sees only the prefix, so no model can memorise a batch below this: e.g. two
    windows that start with a space and go on with different letters cost log 2 at t = 0.
    """
    x, y, k = inputs.detach().cpu().long(), targets.detach().cpu().long(), kept.detach().cpu()
    if x.dim() != 2 or x.shape != y.shape or not bool(k.any()):
        return 0.0
    group = torch.zeros(len(x), dtype=torch.long)  # windows with the same prefix so far share a group
    total = 0.0
    for t in range(x.shape[1]):
        group = torch.unique(torch.stack([group, x[:, t]], 1), dim=0, return_inverse=True)[1]
        rows = k[:, t]
        if not bool(rows.any()):
            continue
        g, yt = group[rows], y[rows, t]
        pairs = torch.unique(torch.stack([g, yt], 1), dim=0, return_counts=True)
        per_group = torch.bincount(g).double()
        p = pairs[1].double() / per_group[pairs[0][:, 0]]
        total += float(-(pairs[1].double() * p.log()).sum())
    return total / int(k.sum())


def bigram_loss(train: torch.Tensor, test: torch.Tensor, vocab_size: int, ignore: Optional[int]) -> float:
    """Cross-entropy of next-token counts within training windows (add-one smoothed) on test windows."""
    v = int(vocab_size)
    if train.dim() != 2 or train.shape[1] < 2 or test.dim() != 2 or test.shape[1] < 2:
        return math.nan

    def pairs(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = t[:, :-1].reshape(-1), t[:, 1:].reshape(-1)
        keep = (a != ignore) & (b != ignore) if ignore is not None else torch.ones_like(a, dtype=torch.bool)
        return a[keep], b[keep]

    a, b = pairs(train)
    counts = torch.bincount(a * v + b, minlength=v * v).double().reshape(v, v) + 1
    logp = (counts / counts.sum(1, keepdim=True)).log()
    ta, tb = pairs(test)
    return float(-logp[ta, tb].mean()) if len(ta) else math.nan
