"""The clean-model zoo (bench/zoo, issues 11, 20 and 22): its shape here; its runs in scripts/bugbench.py --zoo."""

from bench.zoo.cases import zoo
from tests.conftest import REPO

ZOO_RECIPES = {"classify", "regress", "binary", "charlm", "hf_gpt2"}


def test_zoo_has_60_correct_setups_over_five_recipes_and_five_seeds():
    cases = zoo()
    names = {c.name for c in cases}
    assert len(names) >= 60
    assert {c.recipe for c in cases} == ZOO_RECIPES
    assert {c.seed for c in cases} == set(range(5)) and len(cases) == 5 * len(names)
    assert {c.expected for c in cases} == {"pass"} and {c.kind for c in cases} == {"zoo"}


def test_zoo_holds_the_kinds_issues_20_and_22_asked_for():
    names = {c.name for c in zoo(seeds=[0])}
    finetuning = {n for n in names if n.startswith("ft_")}
    assert len(finetuning) >= 8  # issue 20 item 5: continued training, new head, frozen body, LoRA, lrs, sizes
    assert {"hf_gpt2_fixed_length_right", "hf_gpt2_fixed_length_left", "lm_python_lines_transformer"} <= names


def test_every_zoo_setup_composes(tmp_path):
    from saneloop.runner import compose_config

    for case in zoo(seeds=[0]):
        config_dir = REPO / case.config_dir if case.config_dir else None
        cfg, _ = compose_config(case.recipe, case.all_overrides(), config_dir)
        assert str(cfg.data._target_).startswith(("bench.zoo.", "saneloop.datasets.")), case.name
