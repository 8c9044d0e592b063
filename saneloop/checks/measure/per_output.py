"""Paired leads per output, for tasks of several outputs (regression targets [k]): a statistical gate that
judges only the mean over outputs lets one output that learns nothing (its column shuffled apart from the
inputs, an output the model never reads) hide behind the others, and an output on a wide scale outvote the
rest. Each output's lead is judged in its own standard errors and as a fraction of its own loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from .paired import Lead, lead

SCALES = 1e4  # outputs whose losses (squared errors) lie this far apart: spreads 100x apart


@dataclass(frozen=True)
class OutputLeads:
    leads: list[Lead]  # per output: the real-input copy's lead over the zeroed copy
    lagging: list[int]  # outputs whose lead is not clear
    improving: bool  # does either copy's held-out loss still improve on a lagging output?

    @property
    def worst(self) -> Lead:
        return min((self.leads[j] for j in self.lagging), key=lambda found: found.z)

    def decided(self, steps: int, settings: Any, out_of_budget: bool) -> bool:
        """A lagging output fails once the budget is spent, or after `min_steps` when nothing improves on it."""
        at_end = out_of_budget or steps >= settings.max_steps
        return at_end or (steps >= settings.min_steps and not self.improving)

    def failure(self, steps: int, together: str, settings: Any) -> str:
        """The message of a failure: the lagging outputs, their leads, the likely causes, the keys."""
        shown = "; ".join(f"output {j}: lead {self.leads[j].shown()}" for j in self.lagging)
        return (
            f"{self._scales()}"
            f"after {steps} steps the outputs together learn from the inputs, but {len(self.lagging)} of "
            f"{len(self.leads)} do not ({shown}): no more than from their absence, and neither copy still improves "
            f"on them. Likely causes: {self._scales()}that output's targets shuffled apart from the inputs (a "
            "column permuted on its own, misaligned after a join), an output no input predicts, a head that never "
            "reads its features. All "
            f"outputs: {together} <gates.input_independent.z={settings.z}, gates.input_independent.min_gain="
            f"{settings.min_gain}, gates.input_independent.min_steps={settings.min_steps}>"
        )

    def _scales(self) -> str:
        """A cause to name first when the outputs' losses lie SCALES apart: training serves the widest."""
        bases = [abs(found.base) for found in self.leads]
        if not min(bases) > 0 or max(bases) / min(bases) <= SCALES:
            return ""
        return (
            f"outputs on scales far apart (held-out losses from {min(bases):.3g} to {max(bases):.3g}), so the mean "
            "squared error, and the training, is mostly the widest output's: standardise the targets per output in "
            "the data and declare it with data.target_shift / data.target_scale; "
        )


def output_leads(
    before: tuple[torch.Tensor, torch.Tensor],
    now: Optional[tuple[torch.Tensor, torch.Tensor]],
    settings: Any,
    change_z: float,
) -> Optional[OutputLeads]:
    """None when every output leads (or `now` is None: not a task of several outputs); else the leads.

    `before`, `now`: (real, zeroed) per-example losses per output [n, k] at two comparisons. A lead is clear
    at `settings.z` standard errors and `settings.min_gain` of the zeroed copy's loss on that output; an
    output still improves when either copy's loss on it fell by `change_z` standard errors (and `min_gain`)
    since `before`."""
    if now is None:
        return None
    real, zeroed = now
    leads = [lead(zeroed[:, j], real[:, j]) for j in range(real.shape[1])]
    lagging = [j for j, found in enumerate(leads) if not found.clear(settings.z, settings.min_gain)]
    if not lagging:
        return None
    n = len(before[0])  # more held-out examples may have been scored since `before`
    improving = any(
        lead(was[:n, j], cur[:n, j]).clear(change_z, settings.min_gain)
        for j in lagging
        for was, cur in zip(before, now)
    )
    return OutputLeads(leads, lagging, improving)
