"""`stop_after=STAGE` (issue 24): a run climbs up to that stage and stops there on purpose; and the tests' fast
path: a planted bug's run goes no further than the stage of the gate that must halt it."""

from __future__ import annotations

import json

import pytest

from saneloop.checks.gate import STAGES
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from tests.conftest import assert_halted_at, gate, run_cli, run_pipeline


def test_a_run_stops_after_the_stage_asked_with_status_stopped_and_exit_status_0(tmp_path):
    result = run_cli(tmp_path, "+recipe=classify", "stop_after=sanity", "output.progress=false")
    assert result.returncode == EXIT_PASSED, result.stdout + result.stderr
    assert "STOPPED after stage sanity, as asked <stop_after=sanity>" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "stopped" and report["exit_code"] == EXIT_PASSED and report["halted_at"] is None
    assert [s["name"] for s in report["stages"]] == ["setup", "sanity"]
    assert gate(report, "init_loss")["status"] == "passed"
    assert any(note.startswith("stopped after stage sanity") for note in report["notes"]), report["notes"]
    assert "**Status: stopped**" in (tmp_path / "report.md").read_text()
    with pytest.raises(AssertionError):  # a planted bug's test whose gate no longer halts fails here, at once
        assert_halted_at(result.returncode, report, "sanity", "init_loss")


def test_a_misspelled_stage_is_refused_naming_the_stages(tmp_path):
    code, report = run_pipeline(tmp_path, "stop_after=sanit")
    assert code == EXIT_INPUT_ERROR and report["status"] == "error" and report["stages"] == []
    assert f"stop_after=sanit must be one of {list(STAGES)} (or null for every stage)" in report["error"]
