"""Seed everything a run draws randomness from, so the same config gives the same numbers."""

from __future__ import annotations

import os
import random
from typing import Optional

import numpy as np
import torch
from accelerate.utils import set_seed

# cuBLAS's deterministic workspace (https://pytorch.org/docs/stable/notes/randomness.html); ":16:8" also works,
# slower. cuBLAS reads it when CUDA builds its handles: it must be in the environment before CUDA starts.
CUBLAS_WORKSPACE = ("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


def deterministic_cuda_env(deterministic: bool) -> Optional[str]:
    """Put cuBLAS's workspace setting in the environment before anything starts CUDA (the run calls this
    before it builds its Accelerator); a value the user set is kept. Returns a note when CUDA had already
    started without it (a notebook that used the GPU first): matmuls may then differ from run to run."""
    name, value = CUBLAS_WORKSPACE
    if not deterministic:
        return None
    late = name not in os.environ and torch.cuda.is_available() and torch.cuda.is_initialized()
    os.environ.setdefault(name, value)
    if not late:
        return None
    return (
        f"deterministic=true: CUDA had started before the run set {name}={value}, so cuBLAS may not use it; "
        f"set it in the environment before the process starts (export {name}={value})"
    )


def seed_everything(seed: int, deterministic: bool) -> None:
    """Python, NumPy and torch (all devices); deterministic kernels when asked: cuDNN's deterministic
    algorithms, no benchmarking (it picks kernels by timing them), torch's deterministic implementations.
    cuBLAS's workspace setting is made before CUDA starts (`deterministic_cuda_env`); set here too, for
    a caller that seeds without a run (a no-op on CPU)."""
    if deterministic:
        os.environ.setdefault(*CUBLAS_WORKSPACE)
    set_seed(seed, deterministic=deterministic)
    if deterministic:
        # warn_only: an op without a deterministic kernel warns instead of crashing the run;
        # the determinism gate still catches a difference it makes.
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


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
