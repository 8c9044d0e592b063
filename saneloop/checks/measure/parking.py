"""A trained model copy moved off its device between its turns, and back: its parameters and its optimizer's
state, the bulk of what training holds (weights, and for Adam two moments: 3x the weights).

The `input_independent` gate trains two copies of the model; taking turns, only one of them (with its
gradients and optimizer state) is resident at a time (issue 21). On an accelerator a parked copy waits in
CPU memory; on the CPU it waits in a temporary file (torch.save), since CPU memory is the memory it would
save, unless it is too small for the file's round trip to be worth it (`MIN_FILE_BYTES`). A copy that has
not trained yet (`fresh`) is only dropped: it comes back as a copy of the model it was made from.
"""

from __future__ import annotations

import os
import tempfile
from typing import Optional

import torch
from torch import nn

MIN_FILE_BYTES = 64 * 2**20  # a CPU copy smaller than this stays where it is (a few million parameters)


class Parked:
    """One copy's parameters and optimizer state, parked (`park`) and brought back (`unpark`) in place: the
    Parameter objects stay the same, so the optimizer keeps them."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, source: Optional[nn.Module] = None) -> None:
        self.params = list(model.parameters())
        self.source = list(source.parameters()) if source is not None else None
        self.optimizer = optimizer
        # No step taken yet, so the copy equals `source` (the caller says when it trained): dropped, not saved.
        self.fresh = source is not None
        self.devices: dict[str, torch.device] = {}
        self.away: Optional[dict[str, torch.Tensor]] = None  # in CPU memory
        self.path: Optional[str] = None  # or in a file
        self.parked = False

    def _tensors(self) -> dict[str, torch.Tensor]:
        named = {f"p{i}": p.data for i, p in enumerate(self.params)}
        for i, p in enumerate(self.params):
            for key, value in self.optimizer.state.get(p, {}).items():
                if isinstance(value, torch.Tensor):
                    named[f"s{i}.{key}"] = value
        return named

    def park(self) -> None:
        """Move the copy off its device (its gradients dropped: the next step sets them to None anyway)."""
        if self.parked:
            return
        for p in self.params:
            p.grad = None
        named = self._tensors()
        if self.fresh:
            self._place({name: t.new_empty(0) for name, t in named.items()})
            self.parked = True
            return
        on_cpu = all(t.device.type == "cpu" for t in named.values())
        if on_cpu and sum(t.untyped_storage().nbytes() for t in named.values()) < MIN_FILE_BYTES:
            return  # small: a file's round trip costs more than the memory is worth
        self.devices = {name: t.device for name, t in named.items()}
        if on_cpu:
            handle, self.path = tempfile.mkstemp(prefix="saneloop_parked_", suffix=".pt")
            os.close(handle)
            torch.save(named, self.path)
        else:
            self.away = {name: t.to("cpu") for name, t in named.items()}
        self._place({name: t.new_empty(0) for name, t in named.items()})
        self.parked = True

    def unpark(self) -> None:
        """Bring the copy back to its device, as it was."""
        if not self.parked:
            return
        if self.fresh and self.source is not None:
            named = {f"p{i}": p.detach().clone() for i, p in enumerate(self.source)}
            self.devices = {name: t.device for name, t in named.items()}
        elif self.path is not None:
            named = torch.load(self.path, weights_only=True)
            self.discard()
        else:
            named, self.away = self.away or {}, None
        self._place({name: t.to(self.devices[name]) for name, t in named.items()})
        self.parked = False

    def _place(self, named: dict[str, torch.Tensor]) -> None:
        for i, p in enumerate(self.params):
            p.data = named[f"p{i}"]
            state = self.optimizer.state.get(p, {})
            for key in list(state):
                if f"s{i}.{key}" in named:
                    state[key] = named[f"s{i}.{key}"]

    def discard(self) -> None:
        """Remove the file, if any (the copy is no longer needed, or is back)."""
        if self.path is not None:
            try:
                os.remove(self.path)
            finally:
                self.path = None
