"""The fixed costs a user feels: time to the first gate verdict, every stage before `train`, the
whole default run, and how the stages before `train` change with a 10x larger training set.

    python scripts/bench_fixed_costs.py [--repeats 3] [--out bench_fixed_costs.json]

Each measurement is a fresh `python -m saneloop` process (start-up and imports included), timed
from process start; medians over repeats, the default and the 10x runs interleaved.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIGGER = ["data._target_=bench_support.digits_repeated", "+data.times=10"]


def one_run(*overrides: str) -> dict:
    """Run the default classify recipe once; return first-verdict time, stage times, wall time."""
    with tempfile.TemporaryDirectory() as run_dir:
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'scripts'}"}
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "saneloop",
                "+recipe=classify",
                "output.progress=false",
                f"hydra.run.dir={run_dir}",
                *overrides,
            ],
            cwd=REPO,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        first = None
        for line in proc.stdout:
            if first is None and line.lstrip().startswith(("PASS", "FAIL", "WAIVED", "skip")):
                first = time.perf_counter() - start
        proc.wait()
        wall = time.perf_counter() - start
        report = json.loads((Path(run_dir) / "report.json").read_text())
    stages = {s["name"]: s["seconds"] for s in report["stages"]}
    before = sum(v for k, v in stages.items() if k not in ("train", "evaluate"))
    return {
        "status": report["status"],
        "first_verdict_s": first,
        "before_train_s": before,
        "wall_s": wall,
        "stages_s": stages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench_fixed_costs.json"))
    parser.add_argument("overrides", nargs="*", help="extra overrides for every run, e.g. threads=1")
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"default": [], "train_set_x10": []}
    for _ in range(args.repeats):
        runs["default"].append(one_run(*args.overrides))
        runs["train_set_x10"].append(
            one_run(
                *BIGGER,
                "train.max_steps=20",
                *args.overrides,
                "gates.loss_decreases.waive='fixed-cost bench: train cut to 20 steps'",
            )
        )
    summary = {
        name: {key: statistics.median(r[key] for r in rs) for key in ("first_verdict_s", "before_train_s", "wall_s")}
        | {
            "stages_s": {s: statistics.median(r["stages_s"][s] for r in rs) for s in rs[0]["stages_s"]},
            "status": sorted({r["status"] for r in rs}),
        }
        for name, rs in runs.items()
    }
    ratio = summary["train_set_x10"]["before_train_s"] / summary["default"]["before_train_s"]
    summary["before_train_ratio_x10"] = ratio
    for name in runs:
        s = summary[name]
        print(
            f"{name:>14}: first verdict {s['first_verdict_s']:.2f} s | before train {s['before_train_s']:.2f} s | "
            f"whole run {s['wall_s']:.2f} s | {s['status']} | {s['stages_s']}"
        )
    print(f"stages before train, 10x training set / default: {ratio:.2f}x")
    args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
