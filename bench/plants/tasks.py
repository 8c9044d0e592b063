"""Planted loss bugs: tasks whose loss is reduced, shaped or chosen wrongly."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from saneloop.tasks import Classify, Regress


class SummedLossClassify(Classify):
    """Bug: the loss is summed over the batch instead of averaged."""

    def loss(self, output, target):
        return F.cross_entropy(output, target, reduction="sum")


@dataclass
class PerPositionClassify(Classify):
    """Classify every position of a sequence: logits [B, T, C], targets [B, T]; causal."""

    causal: bool = True

    def loss(self, output, target):
        return F.cross_entropy(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def output_problem(self, output, batch_size):
        ok = (
            isinstance(output, torch.Tensor)
            and output.dim() == 3
            and output.shape[0] == batch_size
            and output.shape[-1] == self.num_classes
        )
        return None if ok else f"expected logits [B, T, {self.num_classes}]"

    def target_problems(self, targets):
        return super().target_problems(targets.reshape(-1))

    def prior_gap(self, mean_prediction, train_targets):
        return super().prior_gap(mean_prediction.reshape(-1, mean_prediction.shape[-1]), train_targets)

    def metrics(self, outputs, targets):
        return super().metrics(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1))


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
