"""The clean-model zoo: correct (model, data, optimiser) setups that the gates were not tuned on.

Every case is expected to pass every gate ("pass"), on each of seeds 0-4: a halt is a false halt.
The expectation was written before the zoo first ran. The cases vary, on purpose, what the gates
are sensitive to: target scale and units, dataset and test-set size, number and balance of
classes, vocabulary size and coverage, architecture and normalisation, optimiser, learning rate,
dropout and weight decay, and hard but correct tasks (a target that is 90% noise, tiny sets).

A case replaces the recipe's data, model and optimiser nodes whole (`~data +data={...}`, as a
user's own config would) and keeps the recipe's gate settings, except `gates.capacity.wider`,
set to twice the model's width as the recipes do. Budgets are cut to seconds per run: each
case trains long enough that its test metric clearly beats the task's baselines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.suite import QUIET, SEEDS, Case

Z = "bench.zoo"


@dataclass
class ZooCase(Case):
    kind: str = "zoo"
    expected: str = "pass"

    def all_overrides(self) -> list[str]:
        return [*QUIET, f"seed={self.seed}", *self.budget, *self.overrides]


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, (int, float)):
        return repr(v)
    text = str(v)
    return text if text.replace("_", "").replace(".", "").isalnum() else f"'{text}'"


def node(key: str, target: str, **args: Any) -> list[str]:
    """Replace config node `key` whole with `_target_` and its arguments."""
    items = ", ".join(f"{k}: {_value(v)}" for k, v in {"_target_": target, **args}.items())
    return [f"~{key}", f"+{key}={{{items}}}"]


def data(fn: str, **args: Any) -> list[str]:
    return node("data", fn if fn.startswith("saneloop.") else f"{Z}.{fn}", **args)


def model(cls: str, **args: Any) -> list[str]:
    return node("model", cls if cls.startswith("saneloop.") else f"{Z}.{cls}", **args)


def adam(lr: float) -> list[str]:
    return node("optim", "torch.optim.Adam", _partial_=True, lr=lr)


def adamw(lr: float, weight_decay: float = 0.01) -> list[str]:
    return node("optim", "torch.optim.AdamW", _partial_=True, lr=lr, weight_decay=weight_decay)


def sgd(lr: float, momentum: float = 0.9, weight_decay: float = 0.0) -> list[str]:
    return node("optim", "torch.optim.SGD", _partial_=True, lr=lr, momentum=momentum, weight_decay=weight_decay)


def wider(hidden: int) -> list[str]:
    return [f"gates.capacity.wider={{model.hidden: {hidden}}}"]


NO_WIDTH = ["gates.capacity.enabled=false"]  # a linear model has no width to double
MLP = "saneloop.models.MLP"
CHAR_TRANSFORMER = "saneloop.models.CharTransformer"


def epochs(n: int) -> list[str]:
    return [f"train.epochs={n}"]


def steps(n: int) -> list[str]:
    return ["train.epochs=1000", f"train.max_steps={n}"]


def zoo(seeds=SEEDS) -> list[ZooCase]:
    """Every zoo setup on every seed (0-4), each expected to pass."""
    from .setups import binary, charlm, regress
    from .setups_classify import classify
    from .setups_finetune import finetune
    from .setups_issue22 import issue22

    rows = [*regress(), *binary(), *classify(), *charlm(), *issue22(), *finetune()]
    return [
        ZooCase(name, recipe, overrides, budget=budget, note=note, seed=s)
        for name, recipe, overrides, budget, note in rows
        for s in seeds
    ]
