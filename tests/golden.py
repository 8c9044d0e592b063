"""Golden values: the numbers a short run of each recipe measures, and how far CPU kernels move them.

`measure(recipe, run_dir)` runs a recipe through the Python API, as a user does, shortened, with every
gate on, and reads what the run already writes: the training loss at a few steps from TensorBoard
(`train/loss`, the mean of the steps since the previous point) and the validation and test metrics from
report.json.

`python -m tests.golden [RECIPE ...]` regenerates the tables of tests/test_golden.py: it measures each
recipe in fresh processes under every CPU kernel set torch can pick on x86 (`ATEN_CPU_CAPABILITY`, read
once at import) and with MKL's matrix products on other paths (a CI machine with another CPU takes
another one), and prints each recipe's table with the spread measured and the tolerance it sets.
A change that moves the goldens must say why in its commit.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

from tensorboard.backend.event_processing import event_accumulator

import saneloop

REPO = Path(__file__).resolve().parent.parent
QUIET = ["output.progress=false", "output.save_weights=false", "output.figures=false", "threads=1"]


class ShortRun(NamedTuple):
    overrides: list[str]  # after QUIET: what shortens the recipe (its gates keep their settings)
    steps: tuple[int, ...]  # the train/loss points compared: the first, one in the middle, the last


RUNS = {
    # 1,213 training items (1,348 less the 10% carved for validation): 19 batches of 64 an epoch
    "classify": ShortRun(["train.epochs=3"], (10, 30, 57)),  # 57 steps, ~5 s
    "regress": ShortRun([], (10, 60, 120)),  # the recipe's own 30 epochs of 232 rows (30% to validation): 120 steps
    "binary": ShortRun(["train.epochs=3"], (10, 30, 57)),  # 3 epochs: AUROC below 1.0, so it can move
    # 120 steps (tests/tasks/test_charlm.py's budget, ~35 s): 60 ends short of the bigram baseline.
    "charlm": ShortRun(["train.max_steps=120"], (50, 100, 120)),
}
# The environments measured: torch's kernels per instruction set (x86 CPUs without AVX2 pick
# `default`), and MKL's matrix products on another path: MKL picks its own kernels per CPU, whatever
# torch picks; `MKL_ENABLE_INSTRUCTIONS` caps them (a no-op on AMD CPUs), `MKL_CBWR=COMPATIBLE` takes
# the path every x86 CPU can run (another order of summation than the CPU's own, on any CPU).
ENVIRONMENTS = {
    "aten=default": {"ATEN_CPU_CAPABILITY": "default"},
    "aten=avx2": {"ATEN_CPU_CAPABILITY": "avx2"},
    "aten=avx512": {"ATEN_CPU_CAPABILITY": "avx512"},
    "mkl=avx2": {"MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "mkl=compatible": {"MKL_CBWR": "COMPATIBLE"},
}
KERNEL_VARIABLES = {name for env in ENVIRONMENTS.values() for name in env}  # none leaks in from the caller
# A tolerance is this many times the largest relative difference measured (0: exact, bit for bit).
SAFETY = 4


def measure(recipe: str, run_dir: Path) -> dict[str, float]:
    """Run the recipe's short run in `run_dir`; its training losses, validation and test loss and headline."""
    run = RUNS[recipe]
    result = saneloop.run(recipe, [*QUIET, *run.overrides], run_dir=run_dir)
    if not result.passed:
        raise AssertionError(f"{recipe}'s short run did not pass: {result!r} ({result.error or result.halted_at})")
    events = event_accumulator.EventAccumulator(str(result.run_dir / "tensorboard"), {event_accumulator.SCALARS: 0})
    events.Reload()
    losses = {point.step: point.value for point in events.Scalars("train/loss")}
    values = {f"train/loss@{step}": losses.get(step, math.nan) for step in run.steps}
    val, test, headline = result.val_metrics, result.metrics, result.headline
    return {
        **values,
        "val/loss": val["loss"],
        f"val/{headline}": val[headline],
        "test/loss": test["loss"],
        headline: test[headline],
    }


def measure_in(recipe: str, env: dict[str, str]) -> dict[str, float]:
    """`measure` in a fresh process under `env` (kernel choices are fixed when torch is imported)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "values.json"
        command = [sys.executable, "-m", "tests.golden", "--one", recipe, str(out), str(Path(tmp) / "run")]
        inherited = {name: value for name, value in os.environ.items() if name not in KERNEL_VARIABLES}
        full_env = {**inherited, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env}
        done = subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"{recipe} under {env}: exit {done.returncode}\n{done.stdout[-3000:]}{done.stderr}")
        return json.loads(out.read_text())


def relative(a: float, b: float) -> float:
    """|a - b| relative to |b| (0 when equal, bit for bit)."""
    return 0.0 if a == b else abs(a - b) / max(abs(b), 1e-300)


def tolerance(spread: float) -> float:
    """SAFETY times the spread, rounded up to one significant digit; 0 (exact) where none was seen."""
    if spread == 0:
        return 0.0
    scaled = SAFETY * spread
    unit = 10.0 ** math.floor(math.log10(scaled))
    return math.ceil(round(scaled / unit, 6)) * unit


def table(recipe: str, runs: dict[str, dict[str, float]], reference: str) -> str:
    """The recipe's golden table (the reference environment's values) with the spread measured.

    Exact where the whole run is bit for bit the same in every environment; otherwise every value gets
    the tolerance of the run's largest spread: a value that happened to agree here rounds the same
    numbers as its neighbours and may move by as much on another CPU."""
    spreads = {
        key: {name: relative(values[key], value) for name, values in runs.items()}
        for key, value in runs[reference].items()
    }
    largest = max(max(by_env.values()) for by_env in spreads.values())
    tol = tolerance(largest)
    rule = (
        "exact: the run is bit-reproducible" if tol == 0 else f"{SAFETY}x the largest spread, {largest:.1e}, rounded up"
    )
    lines = [f'    "{recipe}": {{  # {rule}']
    for key, by_env in spreads.items():
        moved = ", ".join(name for name, spread in by_env.items() if spread)
        note = f"spread {max(by_env.values()):.1e} ({moved})" if moved else "identical in every environment"
        lines.append(f'        "{key}": ({runs[reference][key]!r}, {tol:g}),  # {note}')
    return "\n".join(lines + ["    },"])


def main(argv: list[str]) -> None:
    if argv[:1] == ["--one"]:
        recipe, out, run_dir = argv[1:]
        Path(out).write_text(json.dumps(measure(recipe, Path(run_dir))))
        return
    print(f"    # values under aten=avx512; spread over {len(ENVIRONMENTS)} environments: {' '.join(ENVIRONMENTS)}")
    for recipe in argv or list(RUNS):
        runs = {name: measure_in(recipe, env) for name, env in ENVIRONMENTS.items()}
        print(table(recipe, runs, reference="aten=avx512"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
