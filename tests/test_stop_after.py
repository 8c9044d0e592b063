"""`stop_after=STAGE` (issue 24): a run climbs up to that stage and stops there on purpose; and the tests' fast
path: a planted bug's run goes no further than the stage of the gate that must halt it."""

from __future__ import annotations

import ast

import pytest

from saneloop.checks.base.gate import STAGES
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED
from tests.conftest import REPO, assert_halted_at, gate, run_pipeline


def test_a_run_stops_after_the_stage_asked_with_status_stopped_and_exit_status_0(tmp_path, capsys):
    code, report = run_pipeline(tmp_path, "stop_after=sanity", "output.progress=false")
    assert code == EXIT_PASSED and report["status"] == "stopped" and report["exit_code"] == EXIT_PASSED
    assert report["halted_at"] is None and [s["name"] for s in report["stages"]] == ["setup", "sanity"]
    assert gate(report, "init_loss")["status"] == "passed"
    assert any(note.startswith("stopped after stage sanity") for note in report["notes"]), report["notes"]
    assert "STOPPED after stage sanity, as asked <stop_after=sanity>" in capsys.readouterr().out
    assert "**Status: stopped**" in (tmp_path / "report.md").read_text()
    with pytest.raises(AssertionError):  # a planted bug's test whose gate no longer halts fails here, at once
        assert_halted_at(code, report, "sanity", "init_loss")


def test_a_misspelled_stage_is_refused_naming_the_stages(tmp_path):
    code, report = run_pipeline(tmp_path, "stop_after=sanit")
    assert code == EXIT_INPUT_ERROR and report["status"] == "error" and report["stages"] == []
    assert f"stop_after=sanit must be one of {list(STAGES)} (or null for every stage)" in report["error"]


def _halting_tests_without_a_stop() -> list[str]:
    found = []
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        source = path.read_text()
        for node in ast.parse(source).body:
            body = ast.get_source_segment(source, node) if isinstance(node, ast.FunctionDef) else ""
            if "assert_halted_at(" in body and "stop_after" not in body:
                found.append(f"{path.relative_to(REPO)}::{node.name}")
    return found


def test_every_test_of_a_halt_stops_after_the_stage_that_must_halt():
    """So the fast path holds as gates (and their planted bugs) are added: a run that a gate must halt is
    given `stop_after(gate)` (tests/conftest.py), and never trains on when the gate misses its bug."""
    assert _halting_tests_without_a_stop() == []
