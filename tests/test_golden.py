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
    "classify": {  # 4x the largest spread, 1.1e-07, rounded up
        "train/loss@10": (2.213402271270752, 5e-07),  # spread 1.1e-07 (mkl=compatible)
        "train/loss@30": (1.4154471158981323, 5e-07),  # identical in every environment
        "train/loss@57": (0.39898064732551575, 5e-07),  # spread 7.5e-08 (aten=default, aten=avx2, mkl=compatible)
        "val/loss": (0.39985859394073486, 5e-07),  # spread 7.5e-08 (aten=default)
        "val/accuracy": (0.8962963223457336, 5e-07),  # identical in every environment
        "test/loss": (0.3826609253883362, 5e-07),  # spread 7.8e-08 (mkl=compatible)
        "accuracy": (0.9064587950706482, 5e-07),  # identical in every environment
    },
    "regress": {  # 4x the largest spread, 1.1e-07, rounded up
        "train/loss@10": (0.9772714376449585, 5e-07),  # identical in every environment
        "train/loss@60": (0.5412271618843079, 5e-07),  # spread 1.1e-07 (aten=default, mkl=compatible)
        "train/loss@120": (0.4232625961303711, 5e-07),  # identical in every environment
        "val/loss": (0.5176469251360993, 5e-07),  # spread 3.6e-08 (aten=default, mkl=compatible)
        "val/r2": (0.4897473153557109, 5e-07),  # spread 3.7e-08 (aten=default, mkl=compatible)
        "test/loss": (0.5045391888401637, 5e-07),  # spread 1.1e-08 (aten=default, mkl=compatible)
        "r2": (0.47288959810996867, 5e-07),  # spread 1.2e-08 (aten=default, mkl=compatible)
    },
    "binary": {  # 4x the largest spread, 8.6e-08, rounded up
        "train/loss@10": (0.3308236598968506, 4e-07),  # identical in every environment
        "train/loss@30": (0.2103978842496872, 4e-07),  # spread 7.1e-08 (aten=default)
        "train/loss@57": (0.02694101817905903, 4e-07),  # spread 6.9e-08 (mkl=compatible)
        "val/loss": (0.016386170048912078, 4e-07),  # spread 8.6e-08 (aten=default, aten=avx2, mkl=compatible)
        "val/auroc": (1.0, 4e-07),  # identical in every environment
        "test/loss": (0.014549596118362892, 4e-07),  # spread 4.0e-08 (aten=default, aten=avx2, mkl=compatible)
        "auroc": (0.9999374609130707, 4e-07),  # identical in every environment
    },
    "charlm": {  # 4x the largest spread, 2.6e-07, rounded up
        "train/loss@50": (2.7315127849578857, 2e-06),  # spread 2.6e-07 (aten=default, aten=avx2, mkl=compatible)
        "train/loss@100": (2.508436679840088, 2e-06),  # spread 9.5e-08 (aten=default, mkl=compatible)
        "train/loss@120": (2.4491920471191406, 2e-06),  # identical in every environment
        "val/loss": (2.440200401468803, 2e-06),  # spread 2.2e-07 (aten=default, aten=avx2, mkl=compatible)
        "val/bits_per_char": (3.5204650179743, 2e-06),  # spread 2.2e-07 (aten=default, aten=avx2, mkl=compatible)
        "test/loss": (2.4426306382464658, 2e-06),  # spread 2.5e-07 (aten=default, aten=avx2, mkl=compatible)
        "bits_per_char": (3.5239711085216197, 2e-06),  # spread 2.5e-07 (aten=default, aten=avx2, mkl=compatible)
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
