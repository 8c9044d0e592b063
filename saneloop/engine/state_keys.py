"""Model state dicts against a model: what keeps one from loading, and keys as the eager module names them."""

from __future__ import annotations

import torch


def model_mismatch(saved: dict[str, torch.Tensor], current: dict[str, torch.Tensor]) -> list[str]:
    """What keeps a saved state dict from loading into the current model, in words (empty: it fits)."""
    problems = []
    missing, extra = sorted(current.keys() - saved.keys()), sorted(saved.keys() - current.keys())
    if missing:
        problems.append(f"not in the checkpoint: {_few(missing)}")
    if extra:
        problems.append(f"not in the model: {_few(extra)}")
    for key in sorted(saved.keys() & current.keys()):
        if tuple(saved[key].shape) != tuple(current[key].shape):
            problems.append(
                f"{key} is {list(saved[key].shape)} in the checkpoint, {list(current[key].shape)} in the model"
            )
    return problems


def eager_keys(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict with torch.compile's `_orig_mod.` prefix taken out of its keys (saneloop never
    writes one; a state dict saved from a compiled module elsewhere loads all the same)."""
    return {key.replace("_orig_mod.", ""): value for key, value in state.items()}


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
