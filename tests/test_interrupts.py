"""SIGINT (Ctrl-C) ends a run cleanly: inside train after a checkpoint at the next step, elsewhere
at once; either way with report.json status `interrupted` and exit status 4."""

from __future__ import annotations

import signal

from saneloop.engine import checkpoint
from saneloop.errors import EXIT_INTERRUPTED
from tests.conftest import FAST, run_pipeline

SIGNAL = "model._target_=bench.plants.SignalMLP"


def test_sigint_in_train_saves_a_checkpoint_at_that_step_and_says_how_to_resume(tmp_path):
    code, report = run_pipeline(tmp_path, *FAST, SIGNAL, "+model.signal_in=_fit", "+model.signal_at=10")
    assert code == EXIT_INTERRUPTED and report["status"] == "interrupted"
    assert report["notes"][-1] == (
        f"interrupted by SIGINT at train step 10; checkpoint saved: {checkpoint.path_for(tmp_path, 10)}"
    )
    assert report["checkpoint"]["step"] == 10
    assert report["checkpoint"]["resume_command"] == f"python -m saneloop resume={tmp_path}"
    assert [s["name"] for s in report["stages"]][-1] == "train"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers put back


def test_sigint_before_train_stops_at_once_without_a_checkpoint(tmp_path):
    code, report = run_pipeline(tmp_path, *FAST, SIGNAL, "+model.signal_in=_short_run", "+model.signal_at=1")
    assert code == EXIT_INTERRUPTED and report["status"] == "interrupted"
    assert report["notes"][-1] == "interrupted by SIGINT"
    assert [s["name"] for s in report["stages"]] == ["setup"] and report["checkpoint"] is None
    assert not checkpoint.complete(tmp_path)
