"""How saneloop runs a model on a batch: logits and the model's own loss read per `ModelOutputs`; the
batch itself only holds data."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from saneloop.data.batch import Batch
from saneloop.errors import InputError
from saneloop.models.forward import ModelOutputs, call, model_and_task_loss, training_loss


class OwnLoss(nn.Module):
    """Returns {"out": logits, "nll": its own loss, doubled} when given `labels`: the two losses differ."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x, labels=None):
        logits = self.lin(x)
        return {"out": logits} if labels is None else {"out": logits, "nll": 2 * F.cross_entropy(logits, labels)}


def _batch() -> Batch:
    gen = torch.Generator().manual_seed(0)
    return Batch((torch.randn(4, 3, generator=gen),), {}, torch.tensor([0, 1, 1, 0]))


def test_the_batch_is_a_record_that_calls_no_model():
    assert not any(hasattr(Batch, name) for name in ("forward", "call", "training_loss", "around"))


def test_training_loss_is_the_tasks_unless_the_run_trains_on_the_models_own():
    model, batch, read = OwnLoss(), _batch(), ModelOutputs(logits_key="out", loss_key="nll")
    task = F.cross_entropy(model(*batch.inputs)["out"], batch.targets)
    assert torch.allclose(training_loss(model, batch, F.cross_entropy, read), task)
    own = training_loss(model, batch, F.cross_entropy, ModelOutputs("out", "nll", model_loss=True))
    assert torch.allclose(own, 2 * task)
    with torch.no_grad():
        both = model_and_task_loss(model, batch, F.cross_entropy, read)
    assert [float(v) for v in both] == [float(own.detach()), float(task.detach())]


def test_a_missing_own_loss_is_named_with_its_key():
    with pytest.raises(InputError, match=r"no scalar loss under 'loss'.*model_output.loss_key"):
        training_loss(OwnLoss(), _batch(), F.cross_entropy, ModelOutputs("out", model_loss=True))


def test_the_labels_go_in_under_the_target_key():
    seen = {}

    def model(x, labels=None):
        seen["labels"] = labels
        return x

    batch = _batch()
    call(model, batch, **batch.label_kwargs())
    assert seen["labels"] is batch.targets
