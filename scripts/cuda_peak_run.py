"""`python -m saneloop ARGS` that writes its torch.cuda.max_memory_allocated (MB) to $BENCH_PEAK_FILE as it exits:
nothing outside a process can read its CUDA peak. Used by scripts/bench_model_size.py and scripts/gpu_check.sh.

    BENCH_PEAK_FILE=peak.json python scripts/cuda_peak_run.py +recipe=classify
"""

import atexit
import json
import os
import runpy
import sys


def _peak() -> None:
    import torch

    if torch.cuda.is_available():
        peak = {"peak_alloc_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1)}
        with open(os.environ["BENCH_PEAK_FILE"], "w") as out:
            out.write(json.dumps(peak))


atexit.register(_peak)
sys.argv = ["saneloop", *sys.argv[1:]]
sys.path[0] = os.getcwd()  # as `python -m saneloop` has it: a recipe's modules beside its config dir import
runpy.run_module("saneloop", run_name="__main__", alter_sys=True)
