"""torch.compile against eager on the charlm recipe, on this machine's CPU: the train stage's time
per step and what compiling costs up front.

    python scripts/bench_compile.py [--steps 200 600] [--repeats 2] [--out bench_compile.json]

Each run is a fresh `python -m saneloop +recipe=charlm` process with `train.max_steps=N`, eager and
compiled interleaved, with the same settings otherwise (one thread; the two slowest gates before
train, input_independent and overfit, off in both, since they do not run compiled). Inductor's
cache is a fresh folder per run (`cold`, what a first run pays) and, for one more compiled run per
length, the folder of the run before (`warm`). From two lengths: ms per step = the slope, and the
up-front cost = the train stage's time minus steps x slope.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAME = [
    "output.progress=false",
    "output.save_weights=false",
    "output.figures=false",
    "gates.input_independent.enabled=false",
    "gates.overfit.enabled=false",
    "gates.loss_decreases.waive='compile bench: a short run'",
]


def one_run(steps: int, compile: bool, cache: str) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "TORCHINDUCTOR_CACHE_DIR": cache}
        argv = [sys.executable, "-m", "saneloop", "+recipe=charlm", f"train.max_steps={steps}", *SAME]
        argv += [f"train.compile={str(compile).lower()}", f"hydra.run.dir={run_dir}"]
        proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True)
        report = json.loads((Path(run_dir) / "report.json").read_text())
    stages = {s["name"]: s["seconds"] for s in report["stages"]}
    return {"status": report["status"], "exit_code": proc.returncode, **{f"{k}_s": v for k, v in stages.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", nargs=2, type=int, default=[200, 600])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench_compile.json"))
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as caches:
        for r in range(args.repeats):
            for steps in args.steps:
                for mode in ("eager", "compiled"):
                    cache = str(Path(caches) / f"{mode}-{steps}-{r}")
                    runs.setdefault(f"{mode}/{steps}", []).append(one_run(steps, mode == "compiled", cache))
                    print(mode, steps, runs[f"{mode}/{steps}"][-1], flush=True)
                    if mode == "compiled" and r == args.repeats - 1:  # the same cache again: warm
                        runs.setdefault(f"compiled_warm/{steps}", []).append(one_run(steps, True, cache))
    short, long = args.steps
    summary = {}
    for mode in ("eager", "compiled", "compiled_warm"):
        train = {n: statistics.median(r["train_s"] for r in runs[f"{mode}/{n}"]) for n in args.steps}
        per_step = (train[long] - train[short]) / (long - short)
        summary[mode] = {
            "train_s": train,
            "ms_per_step": round(per_step * 1e3, 2),
            "up_front_s": round(train[short] - short * per_step, 2),
            "evaluate_s": {n: statistics.median(r["evaluate_s"] for r in runs[f"{mode}/{n}"]) for n in args.steps},
            "status": sorted({r["status"] for n in args.steps for r in runs[f"{mode}/{n}"]}),
        }
        print(mode, summary[mode])
    summary["compiled_per_step_vs_eager"] = round(
        summary["compiled"]["ms_per_step"] / summary["eager"]["ms_per_step"], 3
    )
    args.out.write_text(json.dumps({"summary": summary, "runs": runs}, indent=2) + "\n")


if __name__ == "__main__":
    main()
