"""SIGINT (Ctrl-C) and SIGTERM end a run cleanly: inside train after a checkpoint at the next step (within a
batch of a loss-curve evaluation), elsewhere at once (inside an evaluation or a gate's loop too); either way
with report.json status `interrupted` and exit status 4."""

from __future__ import annotations

import os
import signal

from bench.plants.faults import _called_from
from saneloop.checks import GATES
from saneloop.engine import checkpoint, interrupts
from saneloop.errors import EXIT_INTERRUPTED
from saneloop.models.mlp import MLP
from tests.conftest import FAST, run_pipeline

SIGNAL = "model._target_=bench.plants.SignalMLP"
GATES_OFF = [f"gates.{gate.name}.enabled=false" for gate in GATES]  # the stages run; only their loops count


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


class SignalInEvalMLP(MLP):
    """Sends itself SIGTERM at its first eval-mode forward inside `signal_in` (a function of `module`) once
    it has trained `after` steps; records every such forward, to count those made after the signal."""

    calls: list[int] = []  # one entry per eval forward inside signal_in (class-wide: gates copy the model)

    def __init__(self, *args, signal_in: str = "_evaluate", module: str = "", after: int = 5, **kwargs):
        super().__init__(*args, **kwargs)
        self.signal_in, self.module, self.after, self.trained = signal_in, module, after, 0

    def forward(self, x):
        if self.training:
            self.trained += 1
        elif self.trained >= self.after and _called_from(self.signal_in, self.module or None):
            SignalInEvalMLP.calls.append(self.trained)
            if len(SignalInEvalMLP.calls) == 1:
                os.kill(os.getpid(), signal.SIGTERM)
        return super().forward(x)


def _signal_in_eval(tmp_path, signal_in: str, module: str, *overrides: str) -> tuple[int, dict]:
    SignalInEvalMLP.calls = []
    target = f"{__name__}.SignalInEvalMLP"
    args = (f"model._target_={target}", f"+model.signal_in={signal_in}", f"+model.module={module}", *overrides)
    return run_pipeline(tmp_path, *FAST, *GATES_OFF, "loader.test.batch_size=8", *args)


def test_sigterm_during_a_loss_curve_evaluation_stops_within_a_batch_with_a_checkpoint(tmp_path):
    """A validation pass of the loss curve (inside train) stops at the next batch, not at the pass's end
    (~25 batches here): the step's checkpoint, status interrupted, the resume command."""
    code, report = _signal_in_eval(tmp_path, "_evaluate", "saneloop.stages.train_curve", "train.full_evals=2")
    assert code == EXIT_INTERRUPTED and report["status"] == "interrupted"
    assert len(SignalInEvalMLP.calls) == 1  # the batch the signal came in; none after it
    step = report["checkpoint"]["step"]
    assert step > 0 and report["notes"][-1].startswith(f"interrupted by SIGTERM at train step {step}")
    assert report["checkpoint"]["resume_command"] == f"python -m saneloop resume={tmp_path}"


def test_sigterm_during_the_final_evaluation_stops_at_once(tmp_path):
    """At `evaluate` nothing defers the signal: the pass stops inside the batch it came in."""
    code, report = _signal_in_eval(tmp_path, "_predict", "saneloop.stages.evaluate", "train.full_evals=0")
    assert code == EXIT_INTERRUPTED and report["status"] == "interrupted"
    assert len(SignalInEvalMLP.calls) == 1 and report["notes"][-1] == "interrupted by SIGTERM"
    assert [s["name"] for s in report["stages"]][-1] == "evaluate"


def test_sigterm_inside_a_gates_training_loop_stops_at_once(tmp_path):
    """overfit's loop (before train: nothing defers) stops inside the step the signal came in."""
    signal_at = ("+model.signal_in=overfit_batch", "+model.signal_at=20", "+model.signal_name=SIGTERM")
    code, report = run_pipeline(tmp_path, *FAST, *GATES_OFF, "gates.overfit.enabled=true", SIGNAL, *signal_at)
    assert code == EXIT_INTERRUPTED and report["status"] == "interrupted"
    assert report["notes"][-1] == "interrupted by SIGTERM" and report["checkpoint"] is None
    assert [s["name"] for s in report["stages"]][-1] == "overfit"


class _TwoProcesses:
    """An accelerator of two processes where the other process was signalled (its flag in the sum)."""

    num_processes, device = 2, "cpu"

    def reduce(self, flag, reduction):
        assert reduction == "sum"
        return flag + 1


def test_a_process_told_that_another_was_signalled_takes_the_stop_too():
    """Several processes agree on the stop: the one not signalled saves and stops at the same step."""
    stops = []
    with interrupts.SignalGuard() as guard:
        assert not interrupts.requested(_TwoProcesses())  # nothing defers: nothing asked
        guard.defer(lambda: stops.append(True))
        assert interrupts.requested(_TwoProcesses())
    assert guard.received == interrupts.ELSEWHERE and stops == [True]
