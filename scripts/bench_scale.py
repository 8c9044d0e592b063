"""Time to the first verdict, time before `train` and peak memory, against the size of a map-style set.

    python scripts/bench_scale.py [--sizes 10000 100000 1000000] [--cost-ms 4] [--workers 4]
        [--tree after=. --tree before=/path/to/old/checkout] [--timeout 900] [--out bench_scale.json]

Each measurement is a fresh `python -m saneloop +recipe=classify` process on
`bench.plants.scale.synthetic_images`: `n` training items (and 1,000 test items), each costing
`cost_ms` of sleep to stand for decoding a JPEG, labels stored as `dataset.targets` (as torchvision's
ImageFolder stores them). The run stops after one train step (the full pass over epoch 1 is not
what is measured here). Reported per run:

- first_verdict_s: from process start to the first gate line on stdout;
- before_train_s: from process start to the last verdict of the stages before `train`;
- peak_rss_mb: the largest resident set of the run's processes (the main one; `os.wait4`).

Trees: a checkout of saneloop each (its `saneloop` package is imported first); the synthetic data
comes from this checkout's bench/plants/scale.py either way. A run past `--timeout` is stopped and
reported as such, with the verdicts it reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_process import PRE_TRAIN, VERDICT, spawn  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def overrides(n: int, cost_ms: float, workers: int) -> list[str]:
    return [
        "+recipe=classify",
        "data._target_=scale.synthetic_images",
        f"+data.n={n}",
        "data.test_size=1000",
        f"+data.cost_ms={cost_ms}",
        f"loader.train.num_workers={workers}",
        f"loader.test.num_workers={workers}",
        "train.max_steps=1",
        "gates.loss_decreases.waive='scale bench: one train step'",
        "output.progress=false",
        "output.save_weights=false",
        "output.figures=false",
    ]


def one_run(tree: Path, n: int, cost_ms: float, workers: int, timeout: float) -> dict:
    """One fresh process; its verdict times, its peak memory and how it ended."""
    with tempfile.TemporaryDirectory() as run_dir:
        env = {**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO / 'bench' / 'plants'}", "OMP_NUM_THREADS": "1"}
        argv = [sys.executable, "-m", "saneloop", *overrides(n, cost_ms, workers), f"hydra.run.dir={run_dir}"]
        run = spawn(argv, tree, env, timeout)
        lines = [(t, text) for t, text, _ in run["lines"]]
        return _result(lines, run["wall_s"], run["peak_rss_mb"], run["exit_code"], timeout)


def _result(lines: list[tuple[float, str]], wall: float, peak_mb: float, code: int, timeout: float) -> dict:
    verdicts = [(t, line.split()[1]) for t, line in lines if line.split()[:1] and line.split()[0] in VERDICT]
    pre = [t for t, where in verdicts if where.split("/")[0] in PRE_TRAIN]
    finished = any(where.startswith("capacity/") for _, where in verdicts)
    return {
        "exit_code": code,
        "timed_out": wall >= timeout,
        "first_verdict_s": round(verdicts[0][0], 2) if verdicts else None,
        "before_train_s": round(pre[-1], 2) if pre and finished else None,
        "last_verdict": verdicts[-1][1] if verdicts else None,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(peak_mb, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--cost-ms", type=float, default=4.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tree", action="append", default=None, help="NAME=PATH of a saneloop checkout")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--out", type=Path, default=Path("bench_scale.json"))
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in (args.tree or [f"after={REPO}"]))
    results = []
    for n in args.sizes:
        for name, path in trees.items():
            row = {"tree": name, "n": n, **one_run(Path(path).resolve(), n, args.cost_ms, args.workers, args.timeout)}
            results.append(row)
            print(json.dumps(row), flush=True)
    for name in trees:
        rows = [r for r in results if r["tree"] == name]
        base = next((r["peak_rss_mb"] for r in rows if r["n"] == min(args.sizes)), None)
        for r in rows:
            r["peak_vs_smallest"] = round(r["peak_rss_mb"] / base, 3) if base else None
    args.out.write_text(json.dumps({"cost_ms": args.cost_ms, "workers": args.workers, "runs": results}, indent=2))
    print(markdown(results, args.timeout))
    print(f"wrote {args.out}")


def markdown(results: list[dict], timeout: float) -> str:
    """The table for docs/performance.md."""
    shown = lambda v: f"{v:,.1f}" if isinstance(v, (int, float)) else f"> {timeout:,.0f} (stopped)"
    lines = [
        "| items | tree | first verdict s | all stages before train s | peak RSS MB | peak / smallest run |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['tree']} | {shown(r['first_verdict_s'])} | {shown(r['before_train_s'])} | "
            f"{r['peak_rss_mb']:,.0f} | {r.get('peak_vs_smallest') or ''} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
