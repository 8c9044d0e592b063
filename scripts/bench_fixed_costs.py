"""The fixed costs a user feels: time to the first gate verdict, every stage before `train`, the
whole default run, and how the stages before `train` change with a 10x larger training set.

    python scripts/bench_fixed_costs.py [--repeats 3] [--out bench_fixed_costs.json]
        [--tree after=. --tree before=/path/to/an/older/checkout] [--recipe classify]

Each measurement is a fresh `python -m saneloop` process (start-up and imports included), timed
from process start; medians over repeats, the default and the 10x runs interleaved, and with several
`--tree`s (checkouts of saneloop, each imported first) every tree's runs interleaved with the others'.
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


def one_run(*overrides: str, tree: Path = REPO, recipe: str = "classify") -> dict:
    """Run a recipe once; return first-verdict time, stage times, wall time."""
    with tempfile.TemporaryDirectory() as run_dir:
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO / 'scripts'}"}
        start = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "saneloop",
                f"+recipe={recipe}",
                "output.progress=false",
                f"hydra.run.dir={run_dir}",
                *overrides,
            ],
            cwd=tree,  # `python -m` puts the working folder first on sys.path
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
    parser.add_argument("--tree", action="append", default=None, help="NAME=PATH of a saneloop checkout")
    parser.add_argument("--recipe", default="classify")
    parser.add_argument("--no-x10", action="store_true", help="skip the 10x training-set runs")
    parser.add_argument("overrides", nargs="*", help="extra overrides for every run, e.g. threads=1")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in (args.tree or [f"after={REPO}"]))
    summaries = {}
    runs = {f"{tree}/{kind}": [] for tree in trees for kind in ("default", "train_set_x10")}
    for _ in range(args.repeats):
        for tree, path in trees.items():
            runs[f"{tree}/default"].append(one_run(*args.overrides, tree=Path(path).resolve(), recipe=args.recipe))
            if not args.no_x10:
                runs[f"{tree}/train_set_x10"].append(
                    one_run(
                        *BIGGER,
                        "train.max_steps=20",
                        *args.overrides,
                        "gates.loss_decreases.waive='fixed-cost bench: train cut to 20 steps'",
                        tree=Path(path).resolve(),
                    )
                )
    for tree in trees:
        summaries[tree] = summarize_runs(
            {k.split("/")[1]: v for k, v in runs.items() if k.startswith(f"{tree}/") and v}, tree
        )
    args.out.write_text(json.dumps(summaries, indent=2) + "\n")


def summarize_runs(runs: dict[str, list[dict]], tree: str = "") -> dict:
    """Medians of each kind of run, printed; the 10x ratio when both kinds ran."""
    summary = {
        name: {key: statistics.median(r[key] for r in rs) for key in ("first_verdict_s", "before_train_s", "wall_s")}
        | {
            "stages_s": {s: statistics.median(r["stages_s"][s] for r in rs) for s in rs[0]["stages_s"]},
            "status": sorted({r["status"] for r in rs}),
        }
        for name, rs in runs.items()
    }
    for name in runs:
        s = summary[name]
        print(
            f"{tree} {name:>14}: first verdict {s['first_verdict_s']:.2f} s | "
            f"before train {s['before_train_s']:.2f} s | whole run {s['wall_s']:.2f} s | "
            f"{s['status']} | {s['stages_s']}"
        )
    if "train_set_x10" in summary:
        ratio = summary["train_set_x10"]["before_train_s"] / summary["default"]["before_train_s"]
        summary["before_train_ratio_x10"] = ratio
        print(f"stages before train, 10x training set / default: {ratio:.2f}x")
    return summary


if __name__ == "__main__":
    main()
