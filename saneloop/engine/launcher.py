"""Which launcher started this run, and whether it started the processes it was asked for.

`accelerate launch --num_processes 2 --cpu` runs one process without a word: Accelerate's plain
launcher (taken with `--cpu`, and without `--multi_gpu` where there is no GPU) runs the script once,
whatever `--num_processes` says. No launcher says how many processes it was asked for; this one leaves
a trace saneloop can read, and the run says what happened and what to type instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from .distributed import launched_world_size


def fewer_processes_than_asked() -> Optional[str]:
    """What to tell a person whose `accelerate launch` was asked for several processes and started one.

    Accelerate's plain launcher (taken with `--cpu`, and without `--multi_gpu` where there is no GPU)
    runs the script once, whatever `--num_processes` says; the one trace it leaves is MASTER_ADDR and
    MASTER_PORT, which it sets only when asked for more than one process, beside its ACCELERATE_USE_CPU
    and no WORLD_SIZE. (Launchers that start every process, torchrun among them, set WORLD_SIZE.)
    """
    env = os.environ
    if "ACCELERATE_USE_CPU" not in env or "MASTER_PORT" not in env or launched_world_size() > 1:
        return None
    asked = _asked_processes()
    return (
        f"accelerate launch was asked for {asked or 'several'} processes and started this one only (its plain "
        f"launcher, taken with --cpu or without --multi_gpu, runs one process); this run trains as one process. "
        f"For {asked or 'N'} processes on the CPU: accelerate launch --multi_gpu --num_processes {asked or 'N'} "
        f"-m saneloop ... (gloo on the CPU where there is no GPU), or torchrun --nproc_per_node {asked or 'N'} "
        "-m saneloop ..."
    )


def _asked_processes() -> Optional[int]:
    """`--num_processes N` on the launcher's command line (this process's parent), where it can be read."""
    try:
        words = Path(f"/proc/{os.getppid()}/cmdline").read_bytes().decode().split("\0")
        for i, word in enumerate(words):
            if word in ("--num_processes", "--num-processes") and i + 1 < len(words):
                return int(words[i + 1])
            if word.startswith(("--num_processes=", "--num-processes=")):
                return int(word.split("=", 1)[1])
    except (OSError, ValueError):
        pass
    return None
