"""Every gate, found from the check modules' declarations (`GATE = Gate(...)`), in the order a run meets them.

Nothing here is written per gate: a new module in `saneloop/checks/` with a declaration is registered by
being there. The typed `gates:` config, the `saneloop.checks` exports and the README's gate reference are
derived from `GATES`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any, Optional

from .gate import STAGES, Gate


def _declarations() -> Iterator[Gate]:
    """Every `Gate` bound at module level in the modules of this package (a module may also hold
    another's declaration it imported: `_ordered` keeps each once)."""
    package = "saneloop.checks"  # one module per gate; what they are made of lives in its subpackages
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if info.ispkg:
            continue
        module = importlib.import_module(f"{package}.{info.name}")
        yield from (value for value in vars(module).values() if isinstance(value, Gate))


def _ordered(gates: list[Gate]) -> tuple[Gate, ...]:
    """By stage; inside a stage each gate after the gates it names in `after`, otherwise by name."""
    by_name: dict[str, Gate] = {}
    for gate in gates:
        if gate.name in by_name and by_name[gate.name] is not gate:
            raise ValueError(f"two gates are declared as {gate.name!r}")
        by_name[gate.name] = gate
    for gate in by_name.values():
        unknown = [name for name in gate.after if name not in by_name]
        if unknown:
            raise ValueError(f"gate {gate.name}: `after` names no registered gate: {unknown}")
    done: list[Gate] = []
    for stage in STAGES:
        waiting = sorted((g for g in by_name.values() if g.stage == stage), key=lambda g: g.name)
        while waiting:
            ready = next((g for g in waiting if all(by_name[a] in done for a in g.after)), None)
            if ready is None:
                raise ValueError(f"gates {[g.name for g in waiting]} wait on each other (or on a later stage)")
            done.append(ready)
            waiting.remove(ready)
    return tuple(done)


GATES: tuple[Gate, ...] = _ordered(list(_declarations()))
BY_NAME: dict[str, Gate] = {gate.name: gate for gate in GATES}


def gate(name: str) -> Gate:
    """The declaration of the gate called `name` (a KeyError naming the known ones otherwise)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no gate {name!r}; the gates are {sorted(BY_NAME)}") from None


def explainer(error: BaseException) -> Optional[Gate]:
    """The gate whose verdict stands for `error` (e.g. a batch whose data were rejected), or None."""
    return next((g for g in GATES if g.explains is not None and isinstance(error, g.explains)), None)


def exports() -> dict[str, Any]:
    """What `saneloop.checks` exports for users: every gate's check functions and settings class."""
    found: dict[str, Any] = {}
    for declared in GATES:
        for fn in declared.checks:
            found[fn.__name__] = fn
        found[declared.settings.__name__] = declared.settings
    return found
