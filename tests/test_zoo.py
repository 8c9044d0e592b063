"""The clean-model zoo (bench/zoo, issue 11): its shape here; its runs in scripts/bugbench.py --zoo."""

from bench.zoo.cases import zoo


def test_zoo_has_40_correct_setups_over_four_recipes_and_five_seeds():
    cases = zoo()
    names = {c.name for c in cases}
    assert len(names) >= 40
    assert {c.recipe for c in cases} == {"classify", "regress", "binary", "charlm"}
    assert {c.seed for c in cases} == set(range(5)) and len(cases) == 5 * len(names)
    assert {c.expected for c in cases} == {"pass"} and {c.kind for c in cases} == {"zoo"}


def test_every_zoo_setup_composes(tmp_path):
    from saneloop.runner import compose_config

    for case in zoo(seeds=[0]):
        cfg, _ = compose_config(case.recipe, case.all_overrides())
        assert str(cfg.data._target_).startswith(("bench.zoo.", "saneloop.datasets.")), case.name
