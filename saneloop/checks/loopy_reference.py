"""Gate `loopy_reference`, and the helper behind it: a vectorized function must agree with a plain,
loopy reference on generated inputs.

The recipe: write the obvious loop first, then vectorize it, and check the two agree. A vectorized
version goes wrong silently (a transpose too many, a broadcast over the wrong axis) in ways the
loop cannot. `matches_reference` is for a user's own unit tests; the gate runs it on a model that
exposes a reference implementation (a `reference_forward` method).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped
from .measure.probing import as_batch

TIP = "tip 13: generalize a special case (a loopy reference equals the vectorized code)"


@dataclass
class LoopyReferenceSettings(GateSettings):
    method: str = "reference_forward"  # the model's method holding the loopy reference
    trials: int = bounded(3, low=0)  # generated inputs tried, besides a real batch
    rtol: float = bounded(1e-4, low=0)
    atol: float = bounded(1e-5, low=0)


def matches_reference(
    vectorized: Callable[..., Any],
    reference: Callable[..., Any],
    example: torch.Tensor | Sequence[torch.Tensor],
    trials: int = 3,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    seed: int = 0,
) -> Verdict:
    """Call both functions on `example` and on `trials` random inputs generated like it (same shapes
    and dtypes; floats from a normal of the example's mean and spread, integers within its range).

    `example` is one tensor or a sequence of positional arguments. In a user's test:
    `assert matches_reference(fast_attention, loop_attention, torch.randn(2, 5, 8)).passed`.
    """
    args = (example,) if isinstance(example, torch.Tensor) else tuple(example)
    gen = torch.Generator().manual_seed(seed)
    worst, where = 0.0, ""
    for trial in range(trials + 1):
        inputs = args if trial == 0 else tuple(_like(a, gen) for a in args)
        with torch.no_grad():  # a comparison of values: no graph to keep
            got, want = vectorized(*inputs), reference(*inputs)
        gap, bad = _gap(got, want, rtol, atol)
        if gap > worst or bad:
            worst, where = gap, ("the example" if trial == 0 else f"generated input {trial}")
        if bad:
            return failed(
                GATE,
                _round(gap),
                f"allclose(rtol={rtol}, atol={atol})",
                f"the vectorized code disagrees with its loopy reference on {where}: {bad}. Likely causes: "
                "a transpose or view that reorders elements, a reduction or softmax over the wrong axis, "
                "broadcasting that pairs the wrong elements, an off-by-one in indexing. "
                f"<gates.{GATE}.rtol={rtol}, gates.{GATE}.atol={atol}>",
                TIP,
            )
    return passed(
        GATE,
        _round(worst),
        f"allclose(rtol={rtol}, atol={atol})",
        f"vectorized code agrees with its loopy reference on {trials + 1} inputs (largest difference {worst:.2g})",
        TIP,
    )


def model_matches_reference(
    model: nn.Module, inputs: Any, settings: LoopyReferenceSettings = LoopyReferenceSettings()
) -> Verdict:
    """The gate: `model(x)` against `model.<settings.method>(x)`, in eval mode (no dropout noise).

    `inputs`: a tensor, a tuple of positional inputs, or a Batch (its keyword inputs go to both as they are).
    """
    reference = getattr(model, settings.method, None)
    if not callable(reference):
        return skipped(
            GATE,
            f"the model has no `{settings.method}` method to compare with <gates.{GATE}.method={settings.method}>",
            TIP,
        )
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            batch = as_batch(inputs)
            fast = lambda *a: model(*a, **batch.kwargs)
            slow = lambda *a: reference(*a, **batch.kwargs)
            return matches_reference(fast, slow, batch.inputs, settings.trials, settings.rtol, settings.atol)
    finally:
        model.train(was_training)


def _like(example: Any, gen: torch.Generator) -> Any:
    if not isinstance(example, torch.Tensor):
        return example
    if example.is_floating_point():
        mean, spread = float(example.float().mean()), float(example.float().std()) if example.numel() > 1 else 1.0
        noise = torch.randn(example.shape, generator=gen) * (spread or 1.0) + mean
        return noise.to(example.device, example.dtype)
    if example.dtype == torch.bool:
        return (torch.rand(example.shape, generator=gen) < 0.5).to(example.device)
    low, high = int(example.min()), int(example.max())
    return torch.randint(low, high + 1, example.shape, generator=gen).to(example.device, example.dtype)


def _gap(got: Any, want: Any, rtol: float, atol: float) -> tuple[float, str]:
    """Largest absolute difference, and what is wrong ('' when they agree)."""
    if isinstance(got, (tuple, list)) and isinstance(want, (tuple, list)) and len(got) == len(want):
        found = [_gap(g, w, rtol, atol) for g, w in zip(got, want)]
        return max((f[0] for f in found), default=0.0), "; ".join(f[1] for f in found if f[1])
    got, want = torch.as_tensor(got), torch.as_tensor(want)
    if got.shape != want.shape:
        return float("inf"), f"shapes differ ({list(got.shape)} vs {list(want.shape)})"
    if got.numel() == 0:
        return 0.0, ""
    diff = (got.double() - want.double().to(got.device)).abs()
    gap = float(diff.max())
    close = torch.allclose(got.double(), want.double().to(got.device), rtol=rtol, atol=atol, equal_nan=True)
    if close:
        return gap, ""
    idx = tuple(int(i) for i in torch.nonzero(diff == diff.max())[0])
    return gap, f"largest difference {gap:.3g} at index {list(idx)} ({float(got[idx]):.5g} vs {float(want[idx]):.5g})"


def _round(value: float) -> float:
    return value if value in (float("inf"), 0.0) else float(f"{value:.3g}")


GATE = Gate(
    name="loopy_reference",
    stage="sanity",
    settings=LoopyReferenceSettings,
    tip=TIP,
    what="a model's `reference_forward` (a loop) and its vectorized forward agree",
    checks=(matches_reference, model_matches_reference),
    applies=("reference",),
)
