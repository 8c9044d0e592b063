"""What the stages before `train` cost, against another checkout of saneloop, side by side.

    git archive main | tar -x -C /tmp/saneloop_main      # the code to compare with, anywhere
    python scripts/bench_gate_cost.py --baseline /tmp/saneloop_main --rounds 7
    python scripts/bench_gate_cost.py --baseline /tmp/saneloop_main --recipe charlm --rounds 3 train.max_steps=2

Each round runs the recipe once with each checkout (in turn, in fresh processes with the same
environment: one thread, no figures, no weights), and reads the stage seconds from report.json.
Prints, per stage and for all stages before `train`, the median over rounds and the ratio to the
baseline. Timings on a shared machine are noisy: interleaving and medians are what make the ratio
mean something.
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
BEFORE_TRAIN = ("setup", "sanity", "baselines", "overfit", "capacity")
QUIET = ["output.progress=false", "output.figures=false", "output.save_weights=false"]


def run_once(code: Path, recipe: str, overrides: list[str], run_dir: Path) -> dict[str, float]:
    """Stage seconds of one run of `recipe` with the saneloop found in `code`."""
    env = {**os.environ, "PYTHONPATH": str(code), "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    args = [sys.executable, "-m", "saneloop", f"+recipe={recipe}", *QUIET, *overrides, f"hydra.run.dir={run_dir}"]
    subprocess.run(args, cwd=run_dir.parent, env=env, capture_output=True, text=True, timeout=1800)
    report = json.loads((run_dir / "report.json").read_text())
    return {s["name"]: float(s["seconds"] or 0.0) for s in report["stages"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--baseline", required=True, help="a checkout of saneloop to compare with")
    p.add_argument("--recipe", default="classify")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("overrides", nargs="*", help="Hydra overrides for both")
    args = p.parse_args(argv)
    codes = {"baseline": Path(args.baseline).resolve(), "this": REPO}
    times: dict[str, list[dict[str, float]]] = {k: [] for k in codes}
    with tempfile.TemporaryDirectory(prefix="gate-cost-") as tmp:
        for r in range(args.rounds):
            for name, code in codes.items():
                times[name].append(run_once(code, args.recipe, args.overrides, Path(tmp) / f"{name}-{r}"))
    table = summary(times)
    print(json.dumps(table, indent=1))
    return 0


def summary(times: dict[str, list[dict[str, float]]]) -> dict:
    """Median seconds per stage and before train, for each checkout, and this / baseline."""
    out: dict = {}
    for stage in (*BEFORE_TRAIN, "before_train", "train"):
        medians = {}
        for name, rounds in times.items():
            values = [
                sum(t.get(s, 0.0) for s in BEFORE_TRAIN) if stage == "before_train" else t.get(stage, 0.0)
                for t in rounds
            ]
            medians[name] = round(statistics.median(values), 3)
        ratio = medians["this"] / medians["baseline"] if medians["baseline"] else None
        out[stage] = {**medians, "ratio": round(ratio, 3) if ratio else None}
    return out


if __name__ == "__main__":
    sys.exit(main())
