"""A run in a notebook or a user's script leaves the process as it found it.

A run seeds every random stream, turns deterministic kernels on, may set torch's thread count and
builds Accelerate's process state. `isolated()` puts all of that back afterwards, so a second run in
the same process (or the user's own code after it) starts from the same state as the first.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

_ENV = ("CUBLAS_WORKSPACE_CONFIG",)


@contextmanager
def isolated() -> Iterator[None]:
    saved = _capture()
    try:
        yield
    finally:
        _restore(saved)


def _capture() -> dict[str, Any]:
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if cuda else None,
        "threads": torch.get_num_threads(),
        "deterministic": (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        ),
        "cudnn": (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic),
        "env": {name: os.environ.get(name) for name in _ENV},
        "accelerate_log": logging.getLogger("accelerate").level,
    }


def _restore(saved: dict[str, Any]) -> None:
    random.setstate(saved["python"])
    np.random.set_state(saved["numpy"])
    torch.set_rng_state(saved["torch"])
    if saved["cuda"] is not None:
        torch.cuda.set_rng_state_all(saved["cuda"])
    if torch.get_num_threads() != saved["threads"]:
        torch.set_num_threads(saved["threads"])
    enabled, warn_only = saved["deterministic"]
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)
    torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved["cudnn"]
    for name, value in saved["env"].items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    logging.getLogger("accelerate").setLevel(saved["accelerate_log"])
    _reset_accelerate()


def _reset_accelerate() -> None:
    """Forget Accelerate's one-per-process state (mixed precision, accumulation), so the next run may
    choose others. Only on one process: a process group, once started, belongs to the launcher."""
    try:
        from accelerate.state import AcceleratorState, GradientState, PartialState

        if PartialState._shared_state and PartialState().num_processes > 1:
            return
        AcceleratorState._reset_state(reset_partial_state=True)
        GradientState._reset_state()
    except Exception:  # noqa: BLE001 - private API of an installed version; a stale state is only a limit
        pass
