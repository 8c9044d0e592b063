"""What the split, mode, order and replica gates (issue 14) cost: the default classify run's stages before `train` with
and without them, side by side; and how split_overlap scales with the data's size.

    python scripts/bench_gate_cost.py cost      # interleaved rounds in one process, median ratio
    python scripts/bench_gate_cost.py scaling   # split_overlap at 1x, 10x, 100x the digits set

Writes docs/bench/gate_cost.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MEASURED_GATES = (
    "split_overlap",
    "split_shift",
    "target_leak",
    "modes",
    "grad_accumulation",
    "too_good",
    "label_noise",
    "train_mode",
    "data_order",
    "resume_order",
    "replicas",
    "trained_batch_independence",
    "trained_causality",
    "eval_mode",
)
BEFORE_TRAIN = ("setup", "sanity", "baselines", "overfit", "capacity")


def _pre_train_seconds(overrides: list[str]) -> tuple[float, dict]:
    from saneloop.runner import compose_config, run_config

    with tempfile.TemporaryDirectory() as tmp:
        cfg, _ = compose_config("classify", ["output.progress=false", "output.save_weights=false", *overrides])
        run_config(cfg, Path(tmp))
        report = json.loads((Path(tmp) / "report.json").read_text())
    stages = {s["name"]: s["seconds"] for s in report["stages"]}
    return sum(stages[name] for name in BEFORE_TRAIN), stages


def cost(rounds: int) -> dict:
    """The default classify run (train cut to 1 epoch: only the stages before it are compared), with the
    new gates and with every one of them turned off, alternating, after a warm-up pair."""
    without = [f"gates.{g}.enabled=false" for g in MEASURED_GATES]
    short = ["train.epochs=1", "gates.loss_decreases.enabled=false"]
    _pre_train_seconds(short)
    _pre_train_seconds([*short, *without])
    on, off, per_stage = [], [], []
    for _ in range(rounds):
        seconds, stages = _pre_train_seconds(short)
        on.append(seconds)
        per_stage.append(stages)
        off.append(_pre_train_seconds([*short, *without])[0])
    ratios = [a / b for a, b in zip(on, off)]
    return {
        "rounds": rounds,
        "with_new_gates_s": [round(x, 3) for x in on],
        "without_s": [round(x, 3) for x in off],
        "median_ratio": round(statistics.median(ratios), 3),
        "median_with_s": round(statistics.median(on), 3),
        "median_without_s": round(statistics.median(off), 3),
        "stages_last_round": per_stage[-1],
    }


def _mixed_digits(factor: int, seed: int = 0):
    """`factor` x the digits splits: new images, each the average of two random images of its split (no
    copies of each other, at the digits' own spacing)."""
    import torch

    from saneloop.datasets import digits

    gen = torch.Generator().manual_seed(seed)
    out = []
    for ds in digits():
        x, y = ds.tensors
        if factor == 1:
            out.append((x, y))
            continue
        n = len(x) * factor
        i, j = torch.randint(0, len(x), (n,), generator=gen), torch.randint(0, len(x), (n,), generator=gen)
        out.append(((x[i] + x[j]) / 2, y[i]))
    return out


def scaling(factors: tuple[int, ...]) -> dict:
    import torch

    from saneloop.checks.split_overlap import SplitOverlapSettings, overlapping_items
    from saneloop.data.sample import SplitSample

    torch.set_num_threads(1)
    rows = []
    for factor in factors:
        (x, y), (xt, yt) = _mixed_digits(factor)
        train = SplitSample("train", x.reshape(len(x), -1).double(), y, torch.arange(len(x)), len(x), ())
        test = SplitSample("test", xt.reshape(len(xt), -1).double(), yt, torch.arange(len(xt)), len(xt), ())
        start = time.perf_counter()
        verdict = overlapping_items(train, test, SplitOverlapSettings(max_items=None))
        seconds = time.perf_counter() - start
        n = len(x) + len(xt)
        rows.append(
            {
                "factor": factor,
                "items": n,
                "seconds": round(seconds, 3),
                "us_per_item_log_item": round(1e6 * seconds / (n * math.log(n)), 3),
                "copies_found": verdict.value,
            }
        )
        print(rows[-1], flush=True)
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=("cost", "scaling"))
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", default=str(REPO / "docs" / "bench" / "gate_cost.json"))
    args = p.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    result = cost(args.rounds) if args.what == "cost" else scaling((1, 10, 100))
    out = Path(args.out)
    saved = json.loads(out.read_text()) if out.exists() else {}
    saved[args.what] = result
    out.write_text(json.dumps(saved, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
