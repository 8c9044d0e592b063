"""Seed everything a run draws randomness from, so the same config gives the same numbers."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from accelerate.utils import set_seed


def seed_everything(seed: int, deterministic: bool) -> None:
    """Python, NumPy and torch (all devices); deterministic kernels when asked.

    cuBLAS needs its workspace setting before CUDA starts for deterministic matmuls, so it is set
    here too (a no-op on CPU).
    """
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    set_seed(seed, deterministic=deterministic)
    if deterministic:
        # warn_only: an op without a deterministic kernel warns instead of crashing the run;
        # the determinism gate still catches a difference it makes.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def seed_worker(worker_id: int) -> None:
    """DataLoader worker init: torch seeds each worker; NumPy and `random` get the same seed.

    Every process shares the loader's generator (one data order, sharded), so torch gives worker k
    the same seed on every process: the process's rank is mixed in, so augmentation differs.
    """
    rank = int(os.environ.get("RANK", "0") or 0)  # set by torchrun / accelerate launch
    worker_seed = (torch.initial_seed() + rank * 2**16) % 2**32
    if rank:
        torch.manual_seed(worker_seed)
    np.random.seed(worker_seed)
    random.seed(worker_seed)
