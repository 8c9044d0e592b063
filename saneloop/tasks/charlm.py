"""Character (or any token) language modelling: logits [B, T, V], next-token targets [B, T], cross-entropy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F

from . import tokens as seq
from .base import TargetProblem
from .classify import Classify
from .views import BatchView, PredictionView, TextView

_MAX_LISTED = 20  # how many offending sample indices a message names
_LN2 = math.log(2)


@dataclass
class CharLM:
    """Predict token t+1 from tokens <= t, at every position of a window.

    At every position this is a V-way classification of the next token, so the prior, the bias
    and the loss at init are Classify's over all positions: the final bias starts at the log of
    the training token frequencies (the unigram prior), and the loss at init is the prior's entropy
    (log V if every token were equally common). Losses are in nats per token; `bits_per_char` is
    the same divided by log 2.

    Padded windows: a target equal to `ignore_index` (-100) counts nowhere. `shift_labels`: the
    Hugging Face convention, labels = input_ids and output t scored against label t+1 (the model
    shifts them inside, and so does this task's loss); off, targets are already the next tokens.
    """

    # Its traits (traits.py), where they differ from the defaults:
    higher_is_better = False  # the headline, bits per char, is a loss: lower is better
    # Language-model heads often have no bias by design (GPT-2, Llama; tied embeddings): init_bias says
    # so and init_loss expects what a zero output scores (log V), instead of halting.
    head_bias_optional = True
    # Targets are tokens of a vocabulary: ids the training text never uses are a note, not a halt.
    token_vocabulary = True

    vocab_size: int
    vocab: Optional[str] = None  # the character of each token id, to decode batches; null: show ids
    name: str = "charlm"
    causal: bool = True
    ignore_index: Optional[int] = -100
    shift_labels: bool = False
    # Token ids that only pad or mark (a pad token is never a target): not required in the targets.
    special_ids: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if int(self.vocab_size) < 2:
            raise ValueError(f"task.vocab_size must be >= 2, got {self.vocab_size}; set data.vocab_size")
        if self.vocab is not None and len(self.vocab) != int(self.vocab_size):
            raise ValueError(
                f"data.vocab has {len(self.vocab)} characters but data.vocab_size={self.vocab_size}; make them agree"
            )
        # the classification made at every position
        self._next_token = Classify(int(self.vocab_size), ignore_index=self.ignore_index)

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if output.shape[:-1] != target.shape:
            raise ValueError(
                f"the model returned {list(output.shape)} for targets {list(target.shape)}; charlm "
                f"expects logits [B, T, V] for targets [B, T] (V = data.vocab_size = {self.vocab_size})"
            )
        output, target = seq.aligned(output, target, self.shift_labels)
        return self._next_token.loss(output.reshape(-1, output.shape[-1]), target.reshape(-1))

    def per_example_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The mean loss of each window [B] (windows are the units the statistical gates pair); with windows
        of one length and no ignored targets their mean is `loss`; ignored positions count nowhere."""
        output, target = seq.aligned(output, target, self.shift_labels)
        ignore = -100 if self.ignore_index is None else self.ignore_index
        flat = F.cross_entropy(
            output.reshape(-1, output.shape[-1]), target.reshape(-1), ignore_index=ignore, reduction="none"
        )
        kept = self._next_token.kept(target)
        return flat.reshape(target.shape).sum(-1) / kept.sum(-1).clamp(min=1)

    def output_problem(self, output: Any, batch_size: int) -> str | None:
        v = int(self.vocab_size)
        if not isinstance(output, torch.Tensor):
            return f"the model returned {type(output).__name__}; charlm expects a logits tensor [B, T, V] (V = {v})"
        if output.dim() != 3 or output.shape[0] != batch_size or output.shape[2] != v:
            return (
                f"the model returned shape {list(output.shape)}; charlm expects logits [B, T, V] = "
                f"[{batch_size}, T, {v}] (V = data.vocab_size = {v})"
            )
        if not output.is_floating_point():
            return f"the model returned dtype {output.dtype}; logits must be floating point"
        return None

    def target_problems(self, targets: torch.Tensor) -> list[TargetProblem]:
        if targets.is_floating_point() or targets.dtype == torch.bool:
            return [
                TargetProblem(f"targets have dtype {targets.dtype}; charlm needs integer token ids (torch.long)", [])
            ]
        if targets.dim() != 2:
            return [
                TargetProblem(
                    f"targets have shape {list(targets.shape)} after stacking; charlm expects one "
                    "window of token ids [T] per item",
                    [],
                )
            ]
        kept = self._next_token.kept(targets)
        bad = (((targets < 0) | (targets >= self.vocab_size)) & kept).any(1).nonzero().flatten()
        if len(bad) == 0:
            return []
        return [
            TargetProblem(
                f"{len(bad)} windows hold token ids outside [0, {self.vocab_size}) (seen min "
                f"{int(targets[kept].min())}, max {int(targets[kept].max())}); check data.vocab_size",
                bad[:_MAX_LISTED].tolist(),
            )
        ]

    def pair_problems(self, inputs: torch.Tensor, targets: torch.Tensor) -> list[TargetProblem]:
        """Targets must be the inputs shifted by one (target[t] == input[t + 1]); with `shift_labels`,
        equal to the inputs (the model shifts them). Ignored targets (padding) do not count."""
        kept = self._next_token.kept(targets) if isinstance(targets, torch.Tensor) else targets
        return seq.shift_problems(inputs, targets, kept, self.shift_labels)

    def overfit_floor(self, inputs: torch.Tensor, targets: torch.Tensor) -> float:
        """Mean entropy of the next token among windows whose prefixes up to t are identical: a causal
        model sees only the prefix, so no model can memorise a batch below this."""
        if inputs.dim() != 2 or inputs.shape != targets.shape:
            return 0.0
        if self.shift_labels:  # output t (prefix inputs[:t+1]) is scored against label t+1
            inputs, targets = inputs[:, :-1], targets[:, 1:]
        return seq.prefix_floor(inputs, targets, self._next_token.kept(targets))

    def missing_targets(self, train_targets: torch.Tensor) -> list[Any]:
        """Token ids that never occur as a training target: a vocab_size too large, or a cut-down text."""
        special = {int(i) for i in self.special_ids}
        return [t for t in self._next_token.missing_targets(self._scored(train_targets)) if t not in special]

    def expected_init_loss(self, train_targets: torch.Tensor) -> tuple[float, str]:
        entropy, _ = self._next_token.expected_init_loss(self._scored(train_targets))
        return entropy, (
            f"entropy of the training unigram prior (log V = {math.log(self.vocab_size):.4f} if "
            "every token were equally common)"
        )

    def head_size(self) -> int:
        return int(self.vocab_size)

    def init_bias(self, bias: torch.Tensor, train_targets: torch.Tensor) -> str:
        self._next_token.init_bias(bias, self._scored(train_targets))
        return "log token frequencies of the training targets (the unigram prior)"

    def prior_gap(self, mean_prediction: torch.Tensor, train_targets: torch.Tensor) -> tuple[float, str]:
        """Total variation between the mean softmax over every position and the unigram prior."""
        flat = mean_prediction.reshape(-1, mean_prediction.shape[-1])
        gap, _ = self._next_token.prior_gap(flat, self._scored(train_targets))
        return gap, "total variation between the mean predicted token distribution and the unigram prior"

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        n = len(targets)
        if n == 0:
            return {"loss": math.nan, "count": 0}
        outputs, targets = seq.aligned(outputs, targets, self.shift_labels)
        kept = self._next_token.kept(targets)
        safe = torch.where(kept, targets, torch.zeros_like(targets))
        per_token = (
            F.cross_entropy(outputs.reshape(-1, outputs.shape[-1]).float(), safe.reshape(-1), reduction="none")
            .double()
            .reshape(targets.shape)
        )
        counted = kept.sum(1)
        windows = counted > 0  # windows are the independent-ish units for the error bar
        per_window = (per_token * kept).sum(1)[windows] / counted[windows]
        loss = float(per_token[kept].mean())
        se = float(per_window.std() / math.sqrt(len(per_window))) if len(per_window) > 1 else math.nan
        return {
            "loss": loss,
            "loss_se": se,
            "bits_per_char": loss / _LN2,
            "bits_per_char_se": se / _LN2,
            "perplexity": math.exp(loss),
            "accuracy": float((outputs.argmax(-1) == targets)[kept].double().mean()),
            "tokens": int(kept.sum()),
            "count": n,
        }

    def baselines(self, train_targets: torch.Tensor, test_targets: torch.Tensor) -> dict[str, float]:
        """Test cross-entropy (bits per char) of the training unigram and bigram counts, and of uniform guessing."""
        train, test = self._scored(train_targets), self._scored(test_targets)
        log_prior = torch.zeros(int(self.vocab_size), dtype=torch.double)
        self._next_token.init_bias(log_prior, train)
        unigram = float(-log_prior[test[self._next_token.kept(test)]].mean())
        return {
            "unigram_bits_per_char": unigram / _LN2,
            "unigram_loss": unigram,
            "bigram_bits_per_char": seq.bigram_loss(train, test, self.vocab_size, self.ignore_index) / _LN2,
            "uniform_bits_per_char": math.log(self.vocab_size) / _LN2,
        }

    def headline(self) -> str:
        return "bits_per_char"

    def encode(self, text: str) -> torch.Tensor:
        """Token ids of `text` (e.g. a fixed prompt to sample from); needs task.vocab."""
        if self.vocab is None:
            raise ValueError("task.vocab is not set, so text cannot be encoded; give data.vocab")
        index = {c: i for i, c in enumerate(self.vocab)}
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, tokens: torch.Tensor) -> str:
        """Text of a 1-D tensor of token ids (ids in brackets when task.vocab is not set; ignored: '_')."""
        ids = tokens.reshape(-1).tolist()
        if self.vocab is None:
            return " ".join(f"[{i}]" for i in ids)
        return "".join(
            self.vocab[i] if 0 <= i < len(self.vocab) else "_" if i == self.ignore_index else "\ufffd" for i in ids
        )

    def view_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> BatchView:
        """One line per window: the input text and, beside it, the target text (the input moved by one)."""
        return TextView([f"{self._shown(x)}  =>  {self._shown(y)}" for x, y in zip(inputs.cpu(), targets.cpu())])

    def view_predictions(self, outputs: torch.Tensor, targets: torch.Tensor) -> PredictionView:
        """Target text against the most likely next token at every position (teacher forcing)."""
        outputs, targets = seq.aligned(outputs.detach(), targets, self.shift_labels)
        predicted = outputs.argmax(-1).cpu()
        return PredictionView("text", [self.decode(t) for t in targets.cpu()], [self.decode(p) for p in predicted])

    def _shown(self, tokens: torch.Tensor) -> str:
        return repr(self.decode(tokens))

    def _scored(self, targets: torch.Tensor) -> torch.Tensor:
        return seq.scored(targets, self.shift_labels)
