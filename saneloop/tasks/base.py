"""What a task is: the loss, the loss it should start at, the bias it should start with, its metrics.

The pipeline and the checks know nothing about classification or regression; they ask the task.
Adding a task means writing one class that fits `Task` and one YAML in `conf/task/`. Beside its
methods a task may declare traits (`higher_is_better`, `ignore_index`, ...; `traits.py` lists them
with their defaults), and the optional methods below.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from .views import BatchView, PredictionView


@dataclass(frozen=True)
class TargetProblem:
    """Sample indices whose targets break the task's contract, and why; `fix`, when the task knows it
    (e.g. a config key to set), replaces the targets gate's generic list of likely causes."""

    why: str
    indices: list[int]
    fix: str = ""


@runtime_checkable
class Task(Protocol):
    name: str
    causal: bool  # does output position t only depend on inputs <= t (sequence tasks)?

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...

    def output_problem(self, output: Any, batch_size: int) -> str | None:
        """None if a model output of this shape fits the task, else a message that says why not."""

    def target_problems(self, targets: torch.Tensor) -> list[TargetProblem]: ...

    def missing_targets(self, train_targets: torch.Tensor) -> list[Any]:
        """Values the task expects in the training targets that never occur (e.g. a class)."""

    def expected_init_loss(self, train_targets: torch.Tensor) -> tuple[float, str]:
        """The loss a well-initialised model starts at, and how it was derived."""

    def head_size(self) -> int:
        """Size of the final layer's output (and bias), used to find the head."""

    def init_bias(self, bias: torch.Tensor, train_targets: torch.Tensor) -> str:
        """Set the final bias in place from the training targets; say what was set."""

    def prior_gap(self, mean_prediction: torch.Tensor, train_targets: torch.Tensor) -> tuple[float, str]:
        """How far the model's average prediction at init is from the target prior."""

    def metrics(self, outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]: ...

    def baselines(self, train_targets: torch.Tensor, test_targets: torch.Tensor) -> dict[str, float]: ...

    def headline(self) -> str:
        """The metric's name that decides whether the run is any good (e.g. 'accuracy')."""

    def view_batch(self, inputs: torch.Tensor, targets: torch.Tensor) -> BatchView:
        """Decode exactly what enters the net back into images, text or table rows (tip 10)."""

    def view_predictions(self, outputs: torch.Tensor, targets: torch.Tensor) -> PredictionView:
        """Targets against the model's predictions for these outputs (tips 8 and 11)."""


@runtime_checkable
class ChecksPairs(Protocol):
    """Optional, beside `Task`: a task whose targets can only be judged next to their inputs.

    E.g. a language model's targets must be its inputs shifted by one. The `targets` gate asks it
    about a few (input, target) pairs of each split; a task without the method is not asked.
    """

    def pair_problems(self, inputs: torch.Tensor, targets: torch.Tensor) -> list[TargetProblem]: ...


@runtime_checkable
class HasOverfitFloor(Protocol):
    """Optional, beside `Task`: the least loss any model can reach on a given batch.

    E.g. a causal language model cannot tell apart windows whose prefixes are the same but whose
    next tokens differ. The `overfit` gate then asks for floor + threshold.
    """

    def overfit_floor(self, inputs: torch.Tensor, targets: torch.Tensor) -> float: ...


@runtime_checkable
class PredictsRight(Protocol):
    """Optional, beside `Task`: which samples a model's outputs get right (e.g. the arg-max class is the
    target). The `overfit` gate wants every example of its batch right, not only a low mean loss."""

    def predicted_right(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class HasPerExampleLoss(Protocol):
    """Optional, beside `Task`: the loss of each sample, [B], whose mean is `loss`. The statistical gates
    compare models example by example; they check it agrees with `loss` (a subclass may override `loss`
    alone) and otherwise call `loss` on each sample by itself."""

    def per_example_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class HasPerOutputLoss(Protocol):
    """Optional, beside `Task`: the loss of each sample and output, [B, k], whose mean over outputs is
    `per_example_loss` (several regression targets per item). `input_independent` then wants every output
    to learn from the inputs: one output shuffled apart from its inputs hides in the mean of the others."""

    def per_output_loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor: ...
