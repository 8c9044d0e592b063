"""Each verdict reports its margin to its threshold; a pass within 20% of failing is shown as a near miss."""

from pathlib import Path

from saneloop.checks.base.verdict import passed, relative_margin
from saneloop.record.console import Terminal
from saneloop.record.report import Report


def _report(margin: float) -> Report:
    report = Report(Path("."), "classify")
    report.start_stage("overfit")
    report.record(passed("overfit", 0.09, "<= 0.1", "memorised", margin=margin), 0.1)
    report.end_stage(0.1)
    return report


def test_margin_is_a_fraction_of_the_threshold_signed_by_the_side_that_passes():
    assert abs(relative_margin(0.09, 0.1) - 0.1) < 1e-12  # passed, a tenth of the threshold to spare
    assert abs(relative_margin(0.15, 0.1) + 0.5) < 1e-12  # failed: half a threshold over it
    assert abs(relative_margin(12.0, 10.0, below=False) - 0.2) < 1e-12


def test_report_marks_a_near_miss_and_names_it():
    text = _report(0.1).markdown()
    assert (
        "PASS (near miss)" in text and "+10%" in text and "Near misses (passed within 20% of failing): overfit" in text
    )
    assert "near miss" not in _report(0.5).markdown()


def test_terminal_table_shows_the_margin_and_the_near_miss(capsys):
    terminal = Terminal(enabled=True)
    terminal.summary(_report(0.1).to_json())
    out = capsys.readouterr().out
    assert "margin" in out and "+10%" in out and "near miss" in out
