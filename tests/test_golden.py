"""Golden values: a short run of each recipe measures the same numbers, commit after commit.

"The same seed twice" cannot see the numbers drift between commits: a shifted random stream, a new
probe that draws from the training stream, a changed default. These tests can: each recipe's short run
(tests/golden.py: every gate on, one thread) must give the training loss at a few steps, the test loss
and the headline metric in its table below.

A change that moves them must say why in its commit. Regenerate the tables with
`python -m tests.golden [RECIPE ...]` (a few minutes; docs/golden.md): it measures each recipe under
every CPU kernel set torch and MKL can pick on x86, and prints the table with the spread it measured and
the tolerance that sets, ready to paste here.

Tolerances are relative. 0 is exact, bit for bit: the run gave the same numbers in every environment
measured. Otherwise it is 4x the largest relative spread measured in the run, rounded up (the spread is
float32 rounding in the order of a sum: a few units in the last place, a few 1e-7).
"""

from __future__ import annotations

import pytest

from saneloop.config import recipe_names
from tests.golden import RUNS, measure, relative

REGENERATE = "python -m tests.golden"

# Pasted from `python -m tests.golden` (torch 2.13.0+cpu, AMD EPYC with AVX-512, one thread).
# {recipe: {value: (golden, relative tolerance)}}
GOLDEN: dict[str, dict[str, tuple[float, float]]] = {
    # values under aten=avx512; spread over 5 environments: aten=default aten=avx2 aten=avx512 mkl=avx2 mkl=compatible
    "classify": {  # 4x the largest spread, 1.5e-07, rounded up
        "train/loss@10": (2.2051851749420166, 7e-07),  # spread 1.1e-07 (aten=default, mkl=compatible)
        "train/loss@30": (1.4264671802520752, 7e-07),  # identical in every environment
        "train/loss@66": (0.2975916266441345, 7e-07),  # identical in every environment
        "test/loss": (0.38697177171707153, 7e-07),  # spread 1.5e-07 (aten=default, aten=avx2)
        "accuracy": (0.8997772932052612, 7e-07),  # identical in every environment
    },
    "regress": {  # 4x the largest spread, 1.4e-07, rounded up
        "train/loss@10": (0.9520049095153809, 6e-07),  # identical in every environment
        "train/loss@90": (0.4901915192604065, 6e-07),  # spread 1.2e-07 (aten=default, mkl=compatible)
        "train/loss@180": (0.42470940947532654, 6e-07),  # spread 1.4e-07 (aten=default)
        "test/loss": (0.496958838430765, 6e-07),  # spread 8.0e-09 (aten=default, mkl=compatible)
        "r2": (0.48080906529734546, 6e-07),  # spread 8.6e-09 (aten=default, mkl=compatible)
    },
    "binary": {  # 4x the largest spread, 1.9e-07, rounded up
        "train/loss@10": (0.3330259323120117, 8e-07),  # identical in every environment
        "train/loss@30": (0.14778892695903778, 8e-07),  # identical in every environment
        "train/loss@66": (0.01066875085234642, 8e-07),  # spread 8.7e-08 (mkl=compatible)
        "test/loss": (0.012384958470055968, 8e-07),  # spread 1.9e-07 (aten=default, mkl=compatible)
        "auroc": (0.9999374609130707, 8e-07),  # identical in every environment
    },
    "charlm": {  # 4x the largest spread, 1.6e-07, rounded up
        "train/loss@50": (2.7347404956817627, 7e-07),  # identical in every environment
        "train/loss@100": (2.493633985519409, 7e-07),  # identical in every environment
        "train/loss@120": (2.4634997844696045, 7e-07),  # spread 9.7e-08 (mkl=compatible)
        "test/loss": (2.4473883573750226, 7e-07),  # spread 1.6e-07 (aten=default, aten=avx2, mkl=compatible)
        "bits_per_char": (3.530835046314331, 7e-07),  # spread 1.6e-07 (aten=default, aten=avx2, mkl=compatible)
    },
}


def moved(golden: dict[str, tuple[float, float]], got: dict[str, float]) -> list[str]:
    """One line per value outside its tolerance: which, from what to what, by how much."""
    lines = []
    for key, (want, tol) in golden.items():
        value = got.get(key, float("nan"))
        if not relative(value, want) <= tol:
            allowed = "exact" if tol == 0 else f"{tol:g}"
            lines.append(
                f"  {key}: golden {want!r}, now {value!r} "
                f"({value - want:+.3g}, relative {relative(value, want):.2g}; tolerance {allowed})"
            )
    return lines


def test_every_recipe_has_a_golden_table():
    assert set(GOLDEN) == set(RUNS) == set(recipe_names()), "a new recipe needs a short run and a golden table"


@pytest.mark.parametrize("recipe", list(GOLDEN))
def test_short_run_measures_its_golden_values(recipe, tmp_path):
    lines = moved(GOLDEN[recipe], measure(recipe, tmp_path / "run"))
    assert not lines, (
        f"{recipe}'s golden values moved:\n" + "\n".join(lines) + "\nA change that moves the goldens must say why "
        f"in its commit. If it should, regenerate the table with `{REGENERATE} {recipe}` and paste it into "
        "tests/test_golden.py (docs/golden.md)."
    )


def test_a_moved_value_is_named_with_how_far_it_moved():
    golden = {"train/loss@10": (2.0, 0.0), "test/loss": (1.0, 1e-6), "accuracy": (0.9, 1e-6)}
    lines = moved(golden, {"train/loss@10": 2.0, "test/loss": 1.0 + 5e-7, "accuracy": 0.91})
    assert lines == ["  accuracy: golden 0.9, now 0.91 (+0.01, relative 0.011; tolerance 1e-06)"]
    assert "tolerance exact" in moved(golden, {"train/loss@10": 2.0 + 1e-12, "test/loss": 1.0, "accuracy": 0.9})[0]
    assert "now nan" in moved(golden, {})[0]  # a value the run no longer logs counts as moved
