"""Gate model_loss: a model's own loss (model_output.model_loss) is the task's, on the same logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from saneloop.checks import losses_agree
from saneloop.data.batch import Batch
from saneloop.models.forward import ModelOutputs
from saneloop.tasks import CharLM

OWN_LOSS = ModelOutputs(model_loss=True)


class ShiftingLM(nn.Module):
    """Returns {"logits", "loss"}, computing the loss as a Hugging Face causal LM does (shifted inside)."""

    def __init__(self, vocab: int = 10) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab, 8), nn.Linear(8, vocab)

    def forward(self, input_ids, labels=None):
        logits = self.head(self.embed(input_ids))
        if labels is None:
            return {"logits": logits}
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
        return {"logits": logits, "loss": loss}


def batch() -> Batch:
    ids = torch.randint(0, 10, (4, 6), generator=torch.Generator().manual_seed(0))
    return Batch((), {"input_ids": ids}, ids.clone())


def test_the_model_and_the_task_shifting_alike_agree():
    verdict = losses_agree(ShiftingLM(), CharLM(10, shift_labels=True).loss, [batch()], outputs=OWN_LOSS)
    assert verdict.passed, verdict.message


def test_a_task_that_does_not_shift_while_the_model_does_halts():
    verdict = losses_agree(ShiftingLM(), CharLM(10).loss, [batch()], outputs=OWN_LOSS)
    assert not verdict.passed and "task.shift_labels" in verdict.message


def test_a_batch_of_a_plain_run_is_compared_too_when_called_on_its_own():
    plain = Batch((), {"input_ids": torch.zeros(2, 3, dtype=torch.long)}, torch.zeros(2, 3, dtype=torch.long))
    assert losses_agree(ShiftingLM(), CharLM(10, shift_labels=True).loss, [plain]).passed
