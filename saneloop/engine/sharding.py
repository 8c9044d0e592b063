"""Sharded training (FSDP2) in `train`, and the sharded launches saneloop refuses.

`accelerator.fsdp.enabled=true` (`+cluster=fsdp`) with several processes: at the start of `train` the
model is sharded in place with torch's `fully_shard` (FSDP2): each process keeps 1/N of every parameter,
its gradient and its optimizer state. Accelerate still starts the processes, shards the data, gathers the
predictions and accumulates gradients; it does not wrap the model. Why not Accelerate's own FSDP plugin:
Accelerate (1.16) turns it on only for GPU-like devices; on CPU (gloo) it drops the plugin without a word
and wraps the model in DDP. torch's `fully_shard` is what the plugin calls, and it runs on any device.

The gates before `train` run on the whole model in each process (they were written for it); the sharded
model's forward is a collective, so after `train` every use of it runs on every process in step
(`predict_all`), and what runs on one process, or needs the weights themselves (the probes on the trained
weights, `loss_decreases`' scores, the saved weights), uses a copy with the full weights gathered
(`gathered`). A checkpoint holds the full model and optimizer states (`states`); resuming a sharded run is
refused. DeepSpeed, Megatron-LM and Accelerate's own FSDP (`accelerate launch --use_fsdp`,
`accelerate config`) are refused before anything runs (`check_launch`): saneloop has not been made to run
its gates on them.
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

from ..config.schema import FsdpConfig
from ..config.settings import RunSettings
from ..errors import InputError

_REFUSED = {  # what `accelerate launch` / `accelerate config` set, and what to say
    "ACCELERATE_USE_DEEPSPEED": "DeepSpeed",
    "ACCELERATE_USE_MEGATRON_LM": "Megatron-LM",
    "ACCELERATE_USE_FSDP": "Accelerate's own FSDP plugin",
}
_FIX = (
    "launch without it (`accelerate config`: distributed_type MULTI_GPU or MULTI_CPU, or plain torchrun) and "
    'add +cluster=fsdp (accelerator.fsdp.enabled=true) for sharded training (README, "Sharded training (FSDP)")'
)


def check_launch(settings: RunSettings) -> None:
    """Refuse, before anything runs, a launch whose sharding saneloop would get silently wrong."""
    for name, what in _REFUSED.items():
        if os.environ.get(name, "false").lower() in ("true", "1"):
            raise InputError(f"{what} is not supported (the launcher set {name}=true): {_FIX}")
    if settings.accelerator.fsdp.enabled and settings.resume is not None:
        raise InputError(
            "resume= with accelerator.fsdp.enabled=true is not supported yet: a sharded run's checkpoint holds "
            "the full weights (usable with init_from=), but its optimizer state is not put back into the shards. "
            "Start a new run, or resume without FSDP"
        )


def active(fsdp: FsdpConfig, accelerator: Any) -> bool:
    """Sharding asked for, and more than one process to shard across (one process: nothing to split)."""
    return bool(fsdp.enabled) and accelerator.num_processes > 1


def shard(model: nn.Module, accelerator: Any, fsdp: FsdpConfig) -> list[str]:
    """Shard `model` in place across the processes (each named layer, then the whole); return the units."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    model.to(accelerator.device)
    mesh = init_device_mesh(accelerator.device.type, (accelerator.num_processes,))
    options = {"mesh": mesh, "reshard_after_forward": fsdp.reshard_after_forward, "mp_policy": _policy(accelerator)}
    units = [(name, module) for name, module in model.named_modules() if type(module).__name__ in fsdp.layers]
    if fsdp.layers and not units:
        present = sorted({type(m).__name__ for m in model.modules()})
        raise InputError(
            f"accelerator.fsdp.layers={list(fsdp.layers)} names no module class of this model: name some of "
            f"{present}, or leave it empty to shard the model as one unit"
        )
    for _, module in units:
        fully_shard(module, **options)
    fully_shard(model, **options)
    return [name for name, _ in units] + ["(the model)"]


def note(units: list[str], processes: int) -> str:
    shown = ", ".join(units[:4]) + (f" (+{len(units) - 4} more)" if len(units) > 4 else "")
    return (
        f"FSDP2 <accelerator.fsdp.enabled>: from train on, parameters, gradients and optimizer state sharded "
        f"across {processes} processes, {len(units)} unit(s): {shown}; the gates before train ran on the whole "
        "model in each process; the probes on the trained weights, loss_decreases and model.safetensors use the "
        "gathered full weights; no fixed-batch prediction figures (a sharded forward runs on every process)"
    )


def is_sharded(model: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return any(isinstance(module, FSDPModule) for module in model.modules())


def gathered(model: nn.Module, shell: nn.Module) -> nn.Module:
    """`shell` (an unsharded copy of the model's structure) holding the sharded model's full weights, on
    every process (a collective: every process calls it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True))
    shell.load_state_dict(full)
    return shell


def states(accelerator: Any, model: nn.Module, optimizer: Any) -> tuple[dict[str, Any], Any]:
    """The model's and optimizer's states for a checkpoint, every process taking part; a sharded model's are
    gathered whole on the main process (the optimizer's keyed by parameter name)."""
    if not is_sharded(model):
        return accelerator.get_state_dict(model), optimizer.state_dict() if accelerator.is_main_process else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_state_dict(model, getattr(optimizer, "optimizer", optimizer), options=options)


def _policy(accelerator: Any) -> Any:
    """Mixed precision the FSDP2 way: parameters cast for compute, gradients reduced and outputs in float32."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(accelerator.mixed_precision)
    if accelerator.mixed_precision not in ("no", "bf16", "fp16"):
        raise InputError(
            f"accelerator.mixed_precision={accelerator.mixed_precision} with accelerator.fsdp.enabled=true: "
            "use bf16, fp16 or no"
        )
    if dtype is None:
        return MixedPrecisionPolicy()
    return MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32, output_dtype=torch.float32)
