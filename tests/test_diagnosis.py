"""Issue 22.7: a run that meets the data's bug also meets the model's. A data gate that halts still lets the
cheap model probes run (reported as findings); `gates.on_fail=continue` (and `saneloop check`) runs every
gate that can run and lists every failure at once; a gate a failure made meaningless is skipped, saying why."""

from __future__ import annotations

from saneloop.errors import EXIT_HALTED, EXIT_INPUT_ERROR
from tests.conftest import gate, run_cli, run_pipeline

QUIET = ["output.progress=false", "output.save_weights=false"]
# Text whose windows were split twice (split_overlap halts) read by a transformer with no causal mask.
LEAKY_ON_COPIED_TEXT = ["data._target_=bench.plants.resplit_windows", "+model.mask_diagonal=64", *QUIET]


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
    code, report = run_pipeline(
        tmp_path, *LEAKY_ON_COPIED_TEXT, "gates.on_fail=continue", "stop_after=sanity", recipe="charlm"
    )
    assert code == EXIT_HALTED and report["status"] == "halted"
    assert report["halted_at"] == {"stage": "setup", "gate": "split_overlap"}
    assert {"setup/split_overlap", "sanity/causality"} <= set(_failed(report)), report["failures"]
    for later in ("split_shift", "determinism", "init_loss"):  # halt-on-first never met these
        assert gate(report, later)["status"] in ("passed", "failed"), gate(report, later)
    assert not any(f["finding"] for s in report["stages"] for f in s["gates"])


def test_a_gate_whose_inputs_a_failure_spoiled_is_skipped_naming_the_failure(tmp_path):
    code, report = run_pipeline(
        tmp_path, "data._target_=bench.plants.unshifted_shakespeare", "gates.on_fail=continue", "stop_after=sanity",
        *QUIET, recipe="charlm",
    )  # fmt: skip
    assert code == EXIT_HALTED and _failed(report)[0] == "setup/targets"
    for later in ("determinism", "init_loss", "causality"):
        entry = gate(report, later)
        assert entry["status"] == "skipped" and "setup/targets failed" in entry["message"], entry


def test_on_fail_takes_halt_or_continue_only(tmp_path):
    code, report = run_pipeline(tmp_path, "gates.on_fail=carry_on", *QUIET)
    assert code == EXIT_INPUT_ERROR and "gates.on_fail=carry_on must be one of ['halt', 'continue']" in report["error"]


def test_saneloop_check_is_a_continuing_run_that_stops_before_train(tmp_path):
    done = run_cli(tmp_path, "check", "+recipe=charlm", *LEAKY_ON_COPIED_TEXT, "stop_after=sanity")
    assert done.returncode == EXIT_HALTED, done.stdout + done.stderr
    assert "on_fail: continue" in (tmp_path / "config.yaml").read_text()
    assert "sanity/causality" in done.stdout.split("HALTED")[-1] and "setup/split_overlap" in done.stdout
