"""The causality gate's second look: each attention layer's output at position t must depend on that
layer's own input at t.

A causal mask with the diagonal masked too (`triu(ones, diagonal=0)`) hides token t from position t
inside attention, and the first row has nothing left to attend to. The model as a whole still looks
causal and self-dependent, because the residual stream carries token t to position t (and
`scaled_dot_product_attention` returns zeros, not NaN, for a fully masked row), so only the
attention path shows it: backprop from the attention output at t to the attention input at t.
Attention layers are found by type (`nn.MultiheadAttention`) or by name (`...Attention`, `...Attn`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ...data.batch import Batch
from ...data.padding import attended_positions
from ...models.forward import DEFAULT_OUTPUTS, ModelOutputs, forward
from .probing import grad_of, probe_copy, projection, spread


def is_attention(module: nn.Module) -> bool:
    name = type(module).__name__.lower()
    return isinstance(module, nn.MultiheadAttention) or name.endswith(("attention", "attn"))


def blind_positions(
    model: nn.Module, batch: Batch, positions: int = 0, outputs: ModelOutputs = DEFAULT_OUTPUTS
) -> dict[str, list[int]]:
    """For each innermost attention layer: the tested positions t whose output has no gradient on the
    layer's own input at t (empty lists: every layer sees itself). Only positions where some item is real
    are tested: at a position that is padding in every item, attention rightly looks at no key there."""
    probe, _ = probe_copy(model)
    found = [(n, m) for n, m in probe.named_modules() if is_attention(m) and m is not probe]
    layers = [(n, m) for n, m in found if not any(o is not m and is_attention(o) for o in m.modules())]
    captured: dict[str, tuple[torch.Tensor, Any]] = {}
    handles = [m.register_forward_hook(_capture(n, captured), with_kwargs=True) for n, m in layers]
    handles += [m.register_forward_pre_hook(_leaf(n, captured), with_kwargs=True) for n, m in layers]
    try:
        forward(probe, batch, outputs)
    finally:
        for h in handles:
            h.remove()
    blind = {}
    for name, (leaf, out) in captured.items():
        if out is None or out.dim() < 3 or out.shape[:2] != leaf.shape[:2]:
            continue
        (weights,) = projection([out[:, 0]])
        attended = attended_positions(batch.padding_mask, leaf.shape[1])
        rows = [attended[k] for k in spread(len(attended), positions)]
        blind[name] = [t for t in rows if float(grad_of((out[:, t] * weights).sum(), leaf)[:, t].abs().sum()) == 0.0]
    return blind


def _leaf(name: str, captured: dict):
    def hook(module: nn.Module, args: tuple, kwargs: dict):
        first = next((a for a in args if isinstance(a, torch.Tensor)), None)
        if first is None or not first.is_floating_point() or first.dim() < 3:
            return None
        leaf = first.detach().clone().requires_grad_(True)
        captured[name] = (leaf, None)
        return tuple(leaf if a is first else a for a in args), {k: leaf if v is first else v for k, v in kwargs.items()}

    return hook


def _capture(name: str, captured: dict):
    def hook(module: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
        if name in captured:
            out = output[0] if isinstance(output, (tuple, list)) else output
            captured[name] = (captured[name][0], out if isinstance(out, torch.Tensor) else None)

    return hook
