"""What a task says about itself beyond `Task`'s methods: its traits, each with the value a task that says
nothing gets. The stages and the gates read them only through `traits_of`.

A task declares a trait as an attribute of the same name (a class attribute, or a dataclass field that the
config sets, as `ignore_index`). The built-in tasks declare the ones where they differ from the default:
`CharLM` has `higher_is_better = False`, `head_bias_optional = True`, `token_vocabulary = True`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from numbers import Integral
from typing import Any, Optional

from ..errors import InputError


@dataclass(frozen=True)
class TaskTraits:
    # Is the headline metric better when higher (accuracy, R²) or lower (bits per char, an error)?
    higher_is_better: bool = True
    # A target equal to it counts nowhere (padding, prompt tokens), and pads token labels of different
    # lengths; None: every target counts (padding then uses -100).
    ignore_index: Optional[int] = None
    # Targets are tokens of a vocabulary: ids the training text never uses are a note, not a halt.
    token_vocabulary: bool = False
    # The task's heads often have no bias by design (language models: GPT-2, Llama, tied embeddings):
    # init_bias says so and init_loss expects what a zero output scores, instead of halting.
    head_bias_optional: bool = False


def traits_of(task: Any) -> TaskTraits:
    """The traits `task` declares, and the defaults for those it does not; an InputError naming a trait
    declared with a value of the wrong type (setup reads them first, so it fails before any gate)."""
    found = {f.name: getattr(task, f.name, f.default) for f in fields(TaskTraits)}
    for name, value in found.items():
        if not _fits(name, value):
            kind = "an integer or None" if name == "ignore_index" else "True or False"
            raise InputError(
                f"task {type(task).__name__} declares {name}={value!r}; it must be {kind} "
                f"(task.{name}, a trait read by the gates: see saneloop/tasks/traits.py)"
            )
    index = found["ignore_index"]
    return TaskTraits(**{**found, "ignore_index": None if index is None else int(index)})


def _fits(name: str, value: Any) -> bool:
    if name == "ignore_index":
        return value is None or (isinstance(value, Integral) and not isinstance(value, bool))
    return isinstance(value, bool)
