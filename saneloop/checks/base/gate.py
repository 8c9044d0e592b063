"""A gate's declaration: everything the run, the config and the docs need to know about one gate.

A check module declares each gate it judges once, as `GATE = Gate(...)` below its check function. The
registry (`checks.base.registry`) finds every declaration, and the rest is derived from it: the typed
`gates:` config (`GatesConfig`), the `saneloop.checks` exports, the README's gate reference, the order
the gates must meet. A stage runs a gate by passing its declaration: `ctx.gates(GATE, compute)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from .settings import GateSettings

if TYPE_CHECKING:
    from .verdict import Verdict

# The stages in the order a run climbs them; every gate belongs to one.
STAGES = ("setup", "sanity", "baselines", "overfit", "capacity", "train", "evaluate")
# What a gate may need of a run to apply (`Gate.applies`); elsewhere it reports itself skipped, saying why.
CONDITIONS = {
    "causal": "a causal task (`causal = True`: output t may depend on inputs <= t only)",
    "padded": "padded batches (an attention mask among the inputs)",
    "model_loss": "a model trained on its own loss (`model_output.model_loss=true`)",
    "reference": "a model with a `reference_forward` method",
    "accumulation": "gradient accumulation (`accelerator.gradient_accumulation_steps` > 1)",
    "processes": "several processes whose parameters are replicated (not sharded)",
    "class_labels": "targets that are class labels",
    "continuous_targets": "continuous targets (regression)",
    "leak_probe": "class labels over token inputs, or continuous targets",
    "wider": "a wider model to compare with (`gates.capacity.wider`)",
    "pretrained": "a model that starts pretrained (init_from, `model_pretrained`, from_pretrained, its loss at init)",
    "epochs": "more than one epoch over shuffled data",
    "resumed": "a resumed run (`resume=`)",
    "scaler": "fp16 with a gradient scaler (`accelerator.mixed_precision=fp16` on CUDA)",
}


@dataclass(frozen=True, eq=False)
class Gate:
    """One gate, declared once.

    `name`: the key under `gates:` and in the report. `stage`: where it runs; `event`: when, inside that
    stage (train's gates run at training events: a step, an epoch's end, the end of the fit). `checks`:
    the public functions that judge it (exported by `saneloop.checks`, usable in a user's own tests).
    `what`: one line on what it checks, for the docs. `figures`: what it draws beside its verdict.
    `after`: gates that must have run before it in the same run (an ordering the stage keeps; a test holds it).
    `applies`: the `CONDITIONS` a run must meet for the gate to apply (none: every run); elsewhere it is
    reported as skipped.
    `halts`: False for a gate that reports and never halts (its planted case asserts what it lists).
    `explains`/`explain`: an error raised while reading data that this gate's verdict stands for, wherever
    it is raised (inside another gate or a stage): the runner records `explain(error, where)` in its place.
    `budget_share`: for a gate that trains copies of the model, its share of `gates.budget_steps` (the time
    before `train`, in plain training steps: engine/budget_ledger.py); 0 for a gate whose cost is a few steps.
    """

    name: str
    stage: str
    settings: type[GateSettings]
    tip: str
    what: str
    checks: tuple[Callable[..., Any], ...] = ()
    event: str = ""
    figures: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    applies: tuple[str, ...] = ()
    halts: bool = True
    explains: Optional[type[BaseException]] = None
    explain: Optional[Callable[[Any, str], Verdict]] = None
    budget_share: float = 0.0

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"gate {self.name}: stage {self.stage!r} is not one of {STAGES}")
        if (self.explains is None) != (self.explain is None):
            raise ValueError(f"gate {self.name}: `explains` and `explain` go together")
        if not 0.0 <= self.budget_share <= 1.0:
            raise ValueError(f"gate {self.name}: budget_share {self.budget_share} is not within [0, 1]")
        unknown = [c for c in self.applies if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"gate {self.name}: unknown conditions {unknown}; known: {sorted(CONDITIONS)}")

    def __str__(self) -> str:  # in messages (`<gates.{GATE}.tolerance=...>`) a gate reads as its name
        return self.name

    def __repr__(self) -> str:
        return f"Gate({self.stage}/{self.name})"
