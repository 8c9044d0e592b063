"""Issue 22.7: a run that meets the data's bug also meets the model's. A data gate that halts still lets the
cheap model probes run (reported as findings); `gates.on_fail=continue` (and `saneloop check`) runs every
gate that can run and lists every failure at once; a gate a failure made meaningless is skipped, saying why."""

from __future__ import annotations

from saneloop.cli.commands import as_run
from saneloop.errors import EXIT_HALTED, EXIT_INPUT_ERROR
from tests.conftest import gate, run_cli, run_pipeline

QUIET = ["output.progress=false", "output.save_weights=false"]
# Text whose windows were split twice (split_overlap halts) read by a transformer with no causal mask.
LEAKY_ON_COPIED_TEXT = ["data._target_=bench.plants.resplit_windows", "+model.mask_diagonal=64", *QUIET]
DIGITS = "saneloop.datasets.digits"
# Digits split twice (split_overlap fails) read by an MLP that normalises over the batch (batch_independence).
COPIED_DIGITS_BATCH_NORMED = [
    "data._target_=bench.plants.resplit",
    f"+data.source={DIGITS}",
    "model._target_=bench.plants.BatchStandardizedMLP",
    *QUIET,
]


def _failed(report: dict) -> list[str]:
    return [f"{f['stage']}/{f['gate']}" for f in report["failures"]]


def test_a_data_halt_still_reports_the_models_causal_leak_as_a_finding(tmp_path, capsys):
    code, report = run_pipeline(tmp_path, *LEAKY_ON_COPIED_TEXT, recipe="charlm")
    assert code == EXIT_HALTED and report["status"] == "halted"
    assert report["halted_at"] == {"stage": "setup", "gate": "split_overlap"}
    causality = gate(report, "causality")
    assert causality["status"] == "failed" and causality["finding"], causality
    assert _failed(report) == ["setup/split_overlap", "sanity/causality"]
    assert [f["halted"] for f in report["failures"]] == [True, False]
    for probe in ("modes", "params_learn", "batch_independence"):  # cheap, and blind to the data's quality
        assert gate(report, probe)["status"] == "passed", gate(report, probe)
    ran = {g["name"] for s in report["stages"] for g in s["gates"]}
    assert not ran & {"split_shift", "determinism", "init_loss"}, "only the model probes run after a data halt"
    out = capsys.readouterr().out
    assert "HALTED at setup/split_overlap" in out and "sanity/causality" in out.split("HALTED")[-1]
    markdown = (tmp_path / "report.md").read_text()
    assert "## Failures" in markdown and "causality" in markdown.split("## Failures")[1]


def test_on_fail_continue_runs_every_gate_and_lists_every_failure(tmp_path):
    code, report = run_pipeline(tmp_path, *COPIED_DIGITS_BATCH_NORMED, "gates.on_fail=continue", "stop_after=sanity")
    assert code == EXIT_HALTED and report["status"] == "halted"
    assert report["halted_at"] == {"stage": "setup", "gate": "split_overlap"}
    assert _failed(report) == ["setup/split_overlap", "sanity/batch_independence"], report["failures"]
    for later in ("split_shift", "determinism", "init_loss"):  # halt-on-first never met these
        assert gate(report, later)["status"] == "passed", gate(report, later)
    assert not any(g["finding"] for s in report["stages"] for g in s["gates"])


def test_a_gate_whose_inputs_a_failure_spoiled_is_skipped_naming_the_failure(tmp_path):
    labels_1_to_10 = ["data._target_=bench.plants.shifted_targets", f"+data.source={DIGITS}"]
    code, report = run_pipeline(tmp_path, *labels_1_to_10, "gates.on_fail=continue", "stop_after=sanity", *QUIET)
    assert code == EXIT_HALTED and _failed(report)[0] == "setup/targets"
    assert gate(report, "inputs_finite")["status"] == "passed"  # a data gate: it reads no loss
    for later in ("last_batch", "determinism"):
        entry = gate(report, later)
        assert entry["status"] == "skipped" and "setup/targets failed" in entry["message"], entry
    assert [s["name"] for s in report["stages"]] == ["setup"]  # every later gate runs the model: none can run


def test_on_fail_takes_halt_or_continue_only(tmp_path):
    code, report = run_pipeline(tmp_path, "gates.on_fail=carry_on", *QUIET)
    assert code == EXIT_INPUT_ERROR and "gates.on_fail=carry_on must be one of ['halt', 'continue']" in report["error"]


def test_check_adds_continue_and_a_stop_before_train_unless_given():
    assert as_run(["check", "+recipe=classify", "seed=1"]) == [
        "+recipe=classify",
        "seed=1",
        "gates.on_fail=continue",
        "stop_after=capacity",
    ]
    own_stop = as_run(["check", "+recipe=classify", "stop_after=setup"])
    assert own_stop == ["+recipe=classify", "stop_after=setup", "gates.on_fail=continue"]
    assert as_run(["+recipe=classify", "seed=1"]) == ["+recipe=classify", "seed=1"]


def test_saneloop_check_lists_every_failure_and_exits_3(tmp_path):
    done = run_cli(tmp_path, "check", "+recipe=classify", *COPIED_DIGITS_BATCH_NORMED, "stop_after=sanity")
    assert done.returncode == EXIT_HALTED, done.stdout + done.stderr
    assert "on_fail: continue" in (tmp_path / "config.yaml").read_text()
    listed = done.stdout.split("HALTED")[-1]
    assert "2 gates failed" in listed and "setup/split_overlap" in listed and "sanity/batch_independence" in listed


def _runner(tmp_path, on_fail: str, stop_after: str | None = None):
    from types import SimpleNamespace

    from saneloop.checks import GATES
    from saneloop.config.schema import GatesConfig
    from saneloop.engine.gates import GateRunner
    from saneloop.record.run_record import RunRecord

    record = RunRecord(tmp_path, "unit", main=False)
    settings = GatesConfig(on_fail=on_fail)
    runner = GateRunner(settings, SimpleNamespace(num_processes=1), record, stop_after=stop_after)
    return runner, record, {g.name: g for g in GATES}


def _stage(runner, record, name: str) -> None:
    runner.stage = name
    record.report.start_stage(name)


def test_unit_continue_records_failures_and_halts_at_the_first_once_the_last_stage_ends(tmp_path):
    from saneloop.checks.base.verdict import failed, passed
    from saneloop.errors import GateHalt

    runner, record, gates = _runner(tmp_path, "continue")
    _stage(runner, record, "setup")
    assert runner(gates["split_shift"], lambda s: failed(gates["split_shift"], 1, 0, "shifted")).status == "failed"
    runner.end_stage("setup", last=False)  # nothing raised: the run goes on
    _stage(runner, record, "sanity")
    assert runner(gates["modes"], lambda s: passed(gates["modes"], 0, 0, "fine")).status == "passed"
    boom = runner(gates["causality"], lambda s: 1 / 0)  # raised after a failure: skipped, saying which
    assert boom.status == "skipped" and "after setup/split_shift failed: ZeroDivisionError" in boom.message
    try:
        runner.end_stage("sanity", last=True)
        raise AssertionError("the run must halt at its first failure")
    except GateHalt as halt:
        assert (halt.stage, halt.verdict.gate) == ("setup", "split_shift")
    assert [f["gate"] for f in record.report.failures] == ["split_shift"]


def test_unit_a_failure_in_train_halts_even_when_continuing_and_a_crash_before_any_failure_is_a_crash(tmp_path):
    import pytest

    from saneloop.checks.base.verdict import failed
    from saneloop.errors import GateHalt

    runner, record, gates = _runner(tmp_path, "continue")
    _stage(runner, record, "sanity")
    with pytest.raises(ZeroDivisionError):
        runner(gates["modes"], lambda s: 1 / 0)
    _stage(runner, record, "train")
    with pytest.raises(GateHalt):
        runner(gates["full_pass"], lambda s: failed(gates["full_pass"], 1, 0, "a NaN batch, about to be stepped on"))


def test_unit_halt_mode_after_a_data_failure_runs_only_the_probes_unless_stop_after_ends_before_them(tmp_path):
    import pytest

    from saneloop.checks.base.verdict import failed, passed
    from saneloop.errors import GateHalt

    runner, record, gates = _runner(tmp_path, "halt")
    _stage(runner, record, "setup")
    runner(gates["split_overlap"], lambda s: failed(gates["split_overlap"], 9, 0, "copies"))
    ran = []
    assert runner(gates["determinism"], lambda s: ran.append("determinism")).status == "skipped"
    runner.end_stage("setup", last=False)
    _stage(runner, record, "sanity")
    runner(gates["params_learn"], lambda s: ran.append("params_learn") or passed(gates["params_learn"], 0, 0, "ok"))
    assert ran == ["params_learn"] and record.report.stages[-1]["gates"][0]["finding"]
    with pytest.raises(GateHalt):
        runner.end_stage("sanity", last=False)
    runner, record, gates = _runner(tmp_path, "halt", stop_after="setup")
    _stage(runner, record, "setup")
    with pytest.raises(GateHalt):  # stop_after=setup: the probes' stage is never reached, the halt is at once
        runner(gates["split_overlap"], lambda s: failed(gates["split_overlap"], 9, 0, "copies"))
