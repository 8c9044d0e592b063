"""The bug bench (scripts/bugbench.py, issue 7): a fast subset here, the whole bench under -m slow."""

import importlib.util

import pytest

from bench.suite import bugs, clean
from saneloop.checks.base import registry
from tests.conftest import REPO

# One planted bug per stage family and recipe, and one clean control: each halts (or passes) in seconds.
FAST_BUGS = [
    "cls_view_not_permute",
    "cls_train_labels_shuffled",
    "cls_eval_dropout",
    "reg_no_bias_raw_targets",
    "bin_sigmoid_before_bce",
    "lm_mask_off_by_one",
    "hf_attention_mask_ignored",
    # the second wave (issue 14)
    "cls_split_twice",
    "cls_test_unscaled",
    "cls_target_leaked",
    "cls_eval_locked",
    "cls_accumulation_uneven",
]


def _bench():
    spec = importlib.util.spec_from_file_location("bugbench", REPO / "scripts" / "bugbench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_suite_has_at_least_30_bugs_over_four_recipes_and_clean_controls_over_five_seeds():
    cases = bugs()
    # four recipes, and the Hugging Face examples' (issue 12)
    assert len(cases) >= 30 and {c.recipe for c in cases} >= {"classify", "regress", "binary", "charlm"}
    assert len({c.name for c in cases}) == len(cases)
    controls = clean()
    assert {c.seed for c in controls} == set(range(5))
    assert {c.recipe for c in controls} >= {"classify", "regress", "binary", "charlm"}


# Every gate that can halt has a planted bug in the bench: tests/test_registry.py, from the registry.


@pytest.mark.parametrize("name", FAST_BUGS)
def test_planted_bug_halts_at_its_expected_gate(tmp_path, name):
    case = next(c for c in bugs() if c.name == name)
    row = _bench().run_case(case, str(tmp_path), stop_after=registry.gate(case.expected).stage)
    assert (row["status"], row["halted_gate"]) == ("halted", case.expected), row
    assert row["exit_code"] == 3


def test_clean_control_passes(tmp_path):
    case = next(c for c in clean() if c.name == "cls_batchnorm_dropout" and c.seed == 0)
    row = _bench().run_case(case, str(tmp_path))
    assert row["status"] == "passed" and row["exit_code"] == 0, row


@pytest.mark.slow
def test_whole_bench_meets_the_issue_targets(tmp_path):
    bench = _bench()
    assert bench.main(["--out", str(tmp_path)]) == 0
    import json

    totals = json.loads((tmp_path / "bugbench.json").read_text())["totals"]
    assert totals["recall"] >= 0.98, totals["misses"]
    assert totals["false_positives"] == 0, totals["flagged"]
