"""Refusals before training: a batch whose keys the model does not take, a model output the task cannot
read, a held-out set too small for the gates' statistics. Each message names the key and the fix (exit
status 2), before any gate trains anything."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, Optional

import torch
from torch import nn

from ..checks.base.gate import STAGES, Gate
from ..checks.beats_baselines import GATE as BEATS_BASELINES
from ..checks.input_independent import GATE as INPUT_INDEPENDENT
from ..checks.measure.paired import MIN_HELD_OUT
from ..config.settings import RunSettings
from ..data.batch import Batch
from ..errors import InputError
from ..models.adapters import base_of

# The gates that compare means with their standard errors on held-out examples (each needs MIN_HELD_OUT):
# on the validation split both decide; on the test split, read once at the end, beats_baselines judges.
HELD_OUT_GATES = (INPUT_INDEPENDENT, BEATS_BASELINES)
TEST_GATES = (BEATS_BASELINES,)
MORE = {
    "validation": "raise validation.fraction or give the data its own validation set",
    "test": "raise data.test_size",
}


def gates_to_run(settings: RunSettings, gates: Sequence[Gate]) -> list[str]:
    """The names of `gates` this run will judge: enabled, not waived, in a stage before `stop_after`'s end."""
    last = STAGES.index(settings.stop_after) if settings.stop_after else len(STAGES)
    chosen = [(gate, getattr(settings.gates, gate.name)) for gate in gates]
    return [g.name for g, s in chosen if s.enabled and not s.waive and STAGES.index(g.stage) <= last]


def refuse_too_few_held_out(length: Optional[int], split: str, gates: Sequence[str]) -> None:
    """A held-out split of `length` examples (None: not known yet) too small for the statistics of `gates`,
    named as the cause before any gate runs (one test example made input_independent blame shuffled labels)."""
    if not gates or not length or length >= MIN_HELD_OUT:
        return
    off = " ".join(f"gates.{name}.enabled=false" for name in gates)
    raise InputError(
        f"{length} {split} example{'' if length == 1 else 's'}: the held-out comparisons of {', '.join(gates)} "
        f"(a mean difference and its standard error) need at least {MIN_HELD_OUT}. Give the {split} split more "
        f"examples ({MORE.get(split, 'a larger split')}), or run without those gates ({off})"
    )


def sized(dataset: Any) -> Optional[int]:
    """len(dataset), or None where it has none (refused with its own message when the data is read)."""
    try:
        return len(dataset)
    except TypeError:
        return None


def refuse_unfit_batch(model: nn.Module, batch: Batch, model_target: str, model_loss: bool = False) -> None:
    """The batch's keyword inputs (and, for model_output.model_loss, its labels) must be forward's."""
    params = _forward_params(model)
    if params is None:  # forward(**kwargs), or a signature that cannot be read: nothing to refuse
        return
    names, required = params
    given = list(batch.kwargs)
    unknown = [k for k in given if k not in names]
    if unknown:
        raise InputError(
            f"the batch holds {_keys(unknown)} that {model_target}.forward does not take (it takes "
            f"{sorted(names)}). Drop {'them' if len(unknown) > 1 else 'it'} in the dataset or the collator, rename "
            f"{'them' if len(unknown) > 1 else 'it'} to forward's argument, or, if it is a target, list it in "
            f"data.target_keys (now {list(batch.format.target_keys)})"
        )
    missing = [k for k in required[len(batch.inputs) :] if k not in given]
    if missing:
        raise InputError(
            f"{model_target}.forward needs {_keys(missing)}, which the batch does not hold (it holds "
            f"{given or 'positional inputs only'}); make the dataset or the collator return "
            f"{'them' if len(missing) > 1 else 'it'}"
        )
    if model_loss:
        labels = [k for k in batch.label_kwargs() if k not in names]
        if labels:
            raise InputError(
                f"model_output.model_loss=true passes the targets as {_keys(labels)}, which "
                f"{model_target}.forward does not take; set model_output.model_loss=false (saneloop computes "
                "the task's loss from the logits) or name the target key forward takes in data.target_keys"
            )


def _forward_params(model: nn.Module) -> Optional[tuple[set[str], list[str]]]:
    """(every keyword forward takes, its required parameters in order), or None if it takes **kwargs."""
    model = base_of(model)  # adapters (+peft=lora) hand every input to the base model's forward
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return None
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        extra = _transformers_kwargs(model)
        if extra is None:
            return None
    else:
        extra = set()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = {p.name for p in params if p.kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.VAR_KEYWORD)}
    names |= extra
    required = [p.name for p in params if p.kind in positional and p.default is inspect.Parameter.empty]
    return names, required


def _transformers_kwargs(model: nn.Module) -> Optional[set[str]]:
    """A Hugging Face model's forward takes **kwargs for attention options only (TransformersKwargs): a batch
    key that is neither a named argument nor one of those is dropped without a word. None: not such a model."""
    if not any(cls.__module__.startswith("transformers.") for cls in type(model).__mro__):
        return None
    try:
        from transformers.utils.generic import TransformersKwargs
    except ImportError:
        return None
    return set(getattr(TransformersKwargs, "__annotations__", {}))


def _keys(keys: list[str]) -> str:
    return ("key " if len(keys) == 1 else "keys ") + ", ".join(repr(k) for k in keys)


def describe_output(output: Any) -> str:
    """What a model returned, for messages."""
    if isinstance(output, torch.Tensor):
        return f"a tensor {list(output.shape)}"
    return type(output).__name__
