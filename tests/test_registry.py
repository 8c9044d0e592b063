"""The gate registry (issue 24): every gate declared once, in its check module, and everything else derived
from the declarations: the typed config, the exports, the README's reference; every gate runs, in order."""

from __future__ import annotations

import ast
from dataclasses import fields

import pytest

import saneloop.checks
from bench.suite import bugs
from saneloop.checks import GATES
from saneloop.checks.base import reference, registry
from saneloop.checks.base.gate import STAGES, Gate
from saneloop.config.schema import GatesConfig
from tests.conftest import REPO


def test_each_gate_is_declared_once_and_the_config_has_its_settings():
    names = [gate.name for gate in GATES]
    assert len(names) == len(set(names))
    run_wide = ("on_fail", "budget_steps", "budget_floor_s")  # what any failure does; the time training gates take
    per_gate = [f for f in fields(GatesConfig) if f.name not in run_wide]
    assert [f.name for f in per_gate] == names
    assert all(f.type is gate.settings for f, gate in zip(per_gate, GATES))


def test_a_misspelled_gate_or_setting_is_refused_by_name():
    from omegaconf import OmegaConf
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    config = OmegaConf.structured(GatesConfig)
    with pytest.raises((ConfigAttributeError, ConfigKeyError), match="overfitt"):
        OmegaConf.merge(config, {"overfitt": {"max_steps": 3}})
    with pytest.raises((ConfigAttributeError, ConfigKeyError), match="max_stepz"):
        OmegaConf.merge(config, {"overfit": {"max_stepz": 3}})


def test_gates_come_in_stage_order_and_after_the_gates_they_name():
    ranks = [STAGES.index(gate.stage) for gate in GATES]
    assert ranks == sorted(ranks)
    seen: set[str] = set()
    for gate in GATES:
        assert set(gate.after) <= seen, f"{gate.name} is listed before {set(gate.after) - seen}"
        seen.add(gate.name)


def test_the_pipeline_climbs_the_stages_the_gates_name_in_their_order():
    from saneloop.stages import baselines, capacity, evaluate, overfit, sanity, setup, train

    assert [m.NAME for m in (setup, sanity, baselines, overfit, capacity, train, evaluate)] == list(STAGES)
    climb = (REPO / "saneloop" / "runner" / "pipeline.py").read_text()
    assert [climb.index(f"{name}.NAME") for name in STAGES] == sorted(climb.index(f"{n}.NAME") for n in STAGES)


def test_the_checks_package_exports_every_gates_functions_and_settings():
    for gate in GATES:
        for fn in (*gate.checks, gate.settings):
            assert getattr(saneloop.checks, fn.__name__) is fn and fn.__name__ in saneloop.checks.__all__


def test_every_registered_gate_appears_in_a_default_run_and_keeps_its_order(default_run):
    """A gate with no call site would be missing here; one run before the gates it names, out of order."""
    _, report, _ = default_run
    met = [(stage["name"], g["name"]) for stage in report["stages"] for g in stage["gates"]]
    assert sorted(name for _, name in met) == sorted(gate.name for gate in GATES)
    assert all(registry.gate(name).stage == stage for stage, name in met)
    order = [name for _, name in met]
    for gate in GATES:
        for before in gate.after:
            if gate.name in order and before in order:
                assert order.index(before) < order.index(gate.name), f"{before} must run before {gate.name}"


def test_every_gate_that_can_halt_has_a_planted_bug_in_the_bench():
    planted = {case.expected for case in bugs()}
    missing = [gate.name for gate in GATES if gate.halts and gate.name not in planted]
    assert not missing, f"add a planted bug to bench/suite.py for {missing}"


def test_stages_pass_declarations_not_names():
    """`ctx.gates("name", ...)` and `publish("name", ...)` would tie a call site to a string again."""
    for path in (REPO / "saneloop").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
                if node.func.attr in ("gates", "publish") and isinstance(node.args[0], ast.Constant):
                    pytest.fail(f"{path.relative_to(REPO)}:{node.lineno} names a gate by string")


def test_the_readme_gate_reference_is_the_registrys():
    readme = (REPO / "README.md").read_text()
    start, end = readme.index(reference.START), readme.index(reference.END) + len(reference.END)
    assert readme[start:end] == reference.markdown(), "regenerate it: saneloop gates --markdown"


def test_a_declaration_names_a_known_stage_and_known_conditions():
    with pytest.raises(ValueError, match="stage"):
        Gate("x", "warmup", saneloop.checks.GateSettings, "", "")
    with pytest.raises(ValueError, match="conditions"):
        Gate("x", "setup", saneloop.checks.GateSettings, "", "", applies=("sometimes",))
