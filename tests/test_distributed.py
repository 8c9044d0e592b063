"""Many processes on CPU (gloo): one run dir, exact full-set eval, gates agreed, no hangs.

`torchrun` runs the pass case as a user would. The failure cases start the two processes
themselves, with the environment torchrun gives its workers, so each process's own exit status
and timing can be checked (torchrun itself exits 1 whenever a worker exits non-zero).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from saneloop.checks.base.verdict import failed, passed
from saneloop.datasets import digits
from saneloop.engine import checkpoint, distributed, launcher
from saneloop.errors import EXIT_CRASH, EXIT_HALTED, EXIT_PASSED, InputError
from saneloop.models import MLP
from saneloop.tasks import Classify
from tests.conftest import NOT_APPLICABLE, REPO, assert_every_gate_passed, gate, run_pipeline

SMALL = ["train.epochs=5", "output.progress=false", "gates.overfit.max_steps=100"]
PROMPT_S = 90  # generous for a 2-core CI box shared with other jobs; a hang would wait 600 s


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _launched(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A launcher (torchrun, accelerate launch) run as a user runs it; it must exit 0."""
    result = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == EXIT_PASSED, result.stdout + result.stderr
    return result


def _two_processes(run_dir: Path, *overrides: str, timeout: int = 300) -> tuple[list[int], list[str], float]:
    """Start ranks 0 and 1 as torchrun would; return their exit statuses, outputs and wall time."""
    port, start = str(_free_port()), time.perf_counter()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "saneloop", "+recipe=classify", *overrides, f"hydra.run.dir={run_dir}"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=port,
                WORLD_SIZE="2",
                LOCAL_WORLD_SIZE="2",
                RANK=str(rank),
                LOCAL_RANK=str(rank),
            ),
        )
        for rank in (0, 1)
    ]
    try:
        outputs = [p.communicate(timeout=timeout)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return [p.returncode for p in procs], outputs, time.perf_counter() - start


def _one_process_metrics(weights: Path) -> dict:
    """The test metrics of saved weights, evaluated here in one process, batch by batch."""
    model = MLP(64, 10, hidden=256, depth=2)
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    _, test = digits(test_size=449, split_seed=0)
    inputs, targets = test.tensors
    with torch.no_grad():
        outputs = torch.cat([model(inputs[i : i + 256]) for i in range(0, len(inputs), 256)])
    return Classify(10).metrics(outputs, targets)


def test_torchrun_two_processes_one_run_dir_and_exact_eval(tmp_path):
    """The issue's CI case: torchrun, 2 processes, test set of 449 (odd), no hydra.run.dir given."""
    result = _launched(["torchrun", "--nproc_per_node", "2", "-m", "saneloop", "+recipe=classify", *SMALL], tmp_path)
    run_dirs = list((tmp_path / "outputs" / "classify").iterdir())
    assert len(run_dirs) == 1, run_dirs  # Hydra's ${now:...} may differ per process; one dir stays
    run_dir = run_dirs[0]
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "passed"
    assert_every_gate_passed(report, NOT_APPLICABLE - {"replicas"})  # two processes: the replicas are compared
    assert "all 2 processes hold identical parameters" in gate(report, "replicas")["message"]
    assert gate(report, "full_eval")["value"] == 449 == report["metrics"]["count"]
    assert any(n.startswith("2 processes") for n in report["notes"]), report["notes"]
    assert result.stdout.count("PASSED validation accuracy") == 1  # the other process is quiet
    alone = _one_process_metrics(run_dir / "model.safetensors")
    assert alone["count"] == report["metrics"]["count"] and alone["accuracy"] == report["metrics"]["accuracy"]
    assert alone["loss"] == pytest.approx(report["metrics"]["loss"], rel=1e-6, abs=1e-7)
    last = _last_checkpoint(run_dir)  # train.epochs=5 passes over the training set, not 5 per process
    assert last["epochs"] == 5.0 and 5 * TRAIN_ITEMS <= last["items"] < 5 * (TRAIN_ITEMS + 2 * BATCH)


def test_bad_data_on_one_process_halts_both_promptly(tmp_path):
    codes, outputs, seconds = _two_processes(
        tmp_path, "data._target_=bench.plants.planted_digits", "+data.nan_at=[3,17]", "+data.nan_on_process=1", *SMALL
    )
    assert codes == [EXIT_HALTED, EXIT_HALTED], outputs
    assert seconds < PROMPT_S
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["halted_at"] == {"stage": "setup", "gate": "inputs_finite"}
    found = gate(report, "inputs_finite")
    assert "train indices [3, 17]" in found["message"] and "on process 1 of 2" in found["message"]
    assert "HALTED at setup/inputs_finite" in outputs[0] and "HALTED" not in outputs[1]


def test_crash_on_one_process_ends_both_with_a_clear_message(tmp_path):
    codes, outputs, seconds = _two_processes(
        tmp_path,
        "model._target_=bench.plants.CrashOnProcessMLP",
        "+model.process=1",
        "train.epochs=1",
        "gates.loss_decreases.enabled=false",
        *SMALL[1:],
    )
    assert codes == [EXIT_CRASH, EXIT_CRASH], outputs
    assert seconds < PROMPT_S
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "error"
    assert report["error"].startswith("process 1 of 2: RuntimeError: planted crash on process 1"), report["error"]
    assert "planted crash on process 1" in outputs[1] and "Traceback" in outputs[1]  # its own traceback


def test_replicas_that_drift_apart_halt_naming_parameters_and_processes(tmp_path):
    """A learning rate that depends on the rank: after the first step the processes hold different weights."""
    codes, outputs, seconds = _two_processes(
        tmp_path, "optim._target_=bench.plants.rank_scaled_adamw", "train.epochs=1", *SMALL[1:]
    )
    assert codes == [EXIT_HALTED, EXIT_HALTED], outputs
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["halted_at"] == {"stage": "train", "gate": "replicas"}
    found = gate(report, "replicas")
    assert (
        "at step 1," in found["message"] and "process(es) [1]" in found["message"] and "head.weight" in found["message"]
    )


def test_mixed_precision_and_accumulation_keep_every_gate(tmp_path):
    """bf16 autocast and gradient accumulation through Accelerate's settings (on CPU here); the gates
    before train measure the model in full precision, so their expectations hold unchanged."""
    _launched(
        [
            sys.executable,
            "-m",
            "saneloop",
            "+recipe=classify",
            "accelerator.mixed_precision=bf16",
            "accelerator.gradient_accumulation_steps=2",
            "output.save_weights=false",
            *SMALL,
            f"hydra.run.dir={tmp_path}",
        ],
        REPO,
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert gate(report, "init_loss")["value"] == pytest.approx(2.3087, abs=1e-4)  # as in full precision (1,213 digits)
    assert any("bf16" in n for n in report["notes"]) and any("accumulation over 2" in n for n in report["notes"])


# Only the step bookkeeping is compared: the gates that train copies of the model are off (they run the same
# on any number of processes); a scheduler that never changes the rate counts the steps it sees.
BOOKKEEPING = [
    "train.epochs=2",
    "stop_after=train",
    "output.progress=false",
    "output.figures=false",
    "scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:100000}",
    *(
        f"gates.{name}.enabled=false"
        for name in ("determinism", "split_overlap", "target_leak", "input_independent", "overfit", "capacity")
    ),
]
TRAIN_ITEMS, BATCH = 1213, 64  # classify's training split (1348 less 135 for validation), loader.train.batch_size


def _last_checkpoint(run_dir: Path) -> dict:
    return checkpoint.load(checkpoint.complete(run_dir)[-1])


def test_two_processes_train_the_epochs_of_one_and_accelerate_launch_starts_both_on_cpu(tmp_path):
    """The README's CPU form of `accelerate launch` starts 2 processes, which train `train.epochs` passes over
    the training set, as one process does: half the steps each (loader.train.batch_size is per process), the
    same epochs, every item once per epoch, and a scheduler sized in one process's steps sees all of them."""
    _launched(
        ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1"]
        + ["--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port())]
        + ["-m", "saneloop", "+recipe=classify", *BOOKKEEPING, f"hydra.run.dir={tmp_path / 'two'}"],
        tmp_path,
    )
    report = json.loads((tmp_path / "two" / "report.json").read_text())
    assert any(n.startswith("2 processes") for n in report["notes"]), report["notes"]
    code, _ = run_pipeline(tmp_path / "one", *BOOKKEEPING)
    assert code == EXIT_PASSED
    one, two = _last_checkpoint(tmp_path / "one"), _last_checkpoint(tmp_path / "two")
    assert one["epochs"] == two["epochs"] == 2.0 and one["epoch"] == two["epoch"] == 1
    assert (one["step"], two["step"]) == (2 * 19, 2 * 10)  # 19 batches of 64 an epoch; 10 on each of 2 processes
    assert one["items"] == 2 * TRAIN_ITEMS
    # Accelerate completes the epoch's last step on the second process with items from the epoch's start
    assert 2 * TRAIN_ITEMS <= two["items"] < 2 * (TRAIN_ITEMS + 2 * BATCH)
    # Accelerate steps a scheduler once per process per step: 2 x 20 against 38, the epoch's uneven last step
    # (1213 items: 607 on one process) rounding up on each; within a step per epoch of one process's count
    assert one["scheduler"]["last_epoch"] == one["step"] and two["scheduler"]["last_epoch"] == 2 * two["step"]
    assert 0 <= two["scheduler"]["last_epoch"] - one["step"] <= 2 * one["epochs"]


@pytest.mark.slow
def test_a_two_process_run_resumed_mid_epoch_ends_as_the_uninterrupted_one(tmp_path):
    """Checkpoint steps, epochs and items are the sharded loader's: a 2-process run resumed from step 15 (of
    10 an epoch, with gradient accumulation, dropout and a scheduler) ends with the uninterrupted weights."""
    overrides = [
        *(o for o in BOOKKEEPING if not o.startswith("scheduler=")),
        "checkpoint.every=5",
        "checkpoint.keep=10",
        "model.dropout=0.1",
        "accelerator.gradient_accumulation_steps=2",
        "scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:3,gamma:0.9}",
    ]

    def torchrun(*args: str) -> None:
        _launched(
            ["torchrun", "--nproc_per_node", "2", "--master_port", str(_free_port()), "-m", "saneloop", *args], tmp_path
        )

    full, cut = tmp_path / "full", tmp_path / "cut"
    torchrun("+recipe=classify", *overrides, f"hydra.run.dir={full}")
    shutil.copytree(full, cut)
    for later in checkpoint.complete(cut)[3:]:  # keep steps 5, 10, 15: resume in epoch 1, batch 4
        later.unlink()
    torchrun(f"resume={cut}", f"hydra.run.dir={cut}")
    uninterrupted, resumed = _last_checkpoint(full), _last_checkpoint(cut)
    for key in ("step", "epochs", "items"):
        assert resumed[key] == uninterrupted[key], key
    assert uninterrupted["epochs"] == 2.0 and uninterrupted["step"] == 22
    assert resumed["scheduler"]["last_epoch"] == uninterrupted["scheduler"]["last_epoch"]
    assert all(torch.equal(resumed["model"][k], v) for k, v in uninterrupted["model"].items())


def test_accelerate_launch_asked_for_two_processes_that_starts_one_says_so(monkeypatch):
    """`accelerate launch --cpu --num_processes 2` runs one process (its plain launcher); the trace it leaves
    (MASTER_ADDR/PORT, set only when asked for several, beside ACCELERATE_USE_CPU, no WORLD_SIZE) is read,
    and the count asked for from the launcher's command line."""
    for name in ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCELERATE_USE_CPU", "True")
    assert launcher.fewer_processes_than_asked() is None  # `accelerate launch --cpu`: one process asked for
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29500")
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--num_processes", "2"])
    cmdline, deadline = Path(f"/proc/{parent.pid}/cmdline"), time.monotonic() + 10
    while b"--num_processes" not in cmdline.read_bytes() and time.monotonic() < deadline:
        time.sleep(0.01)  # until the child has exec'd (a fork shows its parent's command line)
    try:
        monkeypatch.setattr(launcher.os, "getppid", lambda: parent.pid)
        said = launcher.fewer_processes_than_asked()
    finally:
        parent.kill()
        parent.wait()
    assert said is not None and said.startswith("accelerate launch was asked for 2 processes and started this one")
    assert "accelerate launch --multi_gpu --num_processes 2" in said and "torchrun --nproc_per_node 2" in said
    monkeypatch.setenv("WORLD_SIZE", "2")  # every process started (torchrun, accelerate launch --multi_gpu)
    assert launcher.fewer_processes_than_asked() is None


class _OneProcess:
    num_processes, process_index, is_main_process = 1, 0, True


def test_one_process_agrees_with_itself_and_raises_as_is():
    assert distributed.agree(_OneProcess(), "stage/gate", lambda: passed("g", 1, 1, "ok")).passed
    assert not distributed.agree(_OneProcess(), "stage/gate", lambda: failed("g", 0, 1, "no")).passed
    with pytest.raises(InputError):
        distributed.agree(_OneProcess(), "stage/gate", lambda: (_ for _ in ()).throw(InputError("bad key")))
    assert distributed.earliest(_OneProcess(), 7) == 7 and distributed.share_failure(_OneProcess(), "x") == "x"


class _ProcessZeroOfTwo:
    """Process 0 of 2, the other process's outcome and message played back by the fakes below."""

    num_processes, process_index, is_main_process, device = 2, 0, True, torch.device("cpu")

    def __init__(self, other_outcome: int, other_message) -> None:
        self.other_outcome, self.other_message = other_outcome, other_message

    def gather(self, tensor):
        return torch.cat([tensor, torch.tensor([self.other_outcome])])


@pytest.fixture
def other_process(monkeypatch):
    def make(outcome: int, message=None):
        accelerator = _ProcessZeroOfTwo(outcome, message)

        def broadcast(obj, from_process):
            if from_process == 1:
                obj[0] = message

        monkeypatch.setattr(distributed, "broadcast_object_list", broadcast)
        return accelerator

    return make


def test_a_gate_failing_on_the_other_process_fails_here_too(other_process):
    theirs = failed("init_loss", 23.0, 2.3, "loss at init 23.0")
    mine = passed("init_loss", 2.3, 2.3, "ok")
    verdict = distributed.agree(other_process(1, theirs), "sanity/init_loss", lambda: mine)
    assert not verdict.passed and verdict.message == "loss at init 23.0 (on process 1 of 2)"
    both = distributed.agree(other_process(1, theirs), "sanity/init_loss", lambda: failed("init_loss", 9.0, 2.3, "9"))
    assert both.message == "9 (on all 2 processes)"  # the lowest failing process speaks for all


def test_a_gate_raising_on_the_other_process_stops_this_one(other_process):
    def ok():
        return passed("overfit", 0.0, 0.01, "ok")

    with pytest.raises(distributed.PeerFailure, match="process 1 of 2 at overfit/overfit: ValueError: boom"):
        distributed.agree(other_process(2, (False, "ValueError: boom")), "overfit/overfit", ok)
    with pytest.raises(InputError, match="process 1 of 2 at setup/targets: bad file"):
        distributed.agree(other_process(2, (True, "bad file")), "setup/targets", ok)


def test_other_processes_keep_hydra_quiet_and_cpu_launches_use_gloo(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    assert distributed.quiet_hydra_overrides(["+recipe=classify"]) == []
    monkeypatch.setenv("RANK", "1")
    assert distributed.quiet_hydra_overrides(["hydra/job_logging=stdout"]) == [
        "hydra.output_subdir=null",
        "hydra/hydra_logging=disabled",
    ]
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed, "_has_accelerator", lambda: False)
    from saneloop.config import read_settings
    from tests.conftest import compose_cfg

    settings = read_settings(compose_cfg("accelerator.timeout_s=42"))
    kwargs = distributed.accelerator_kwargs(settings.accelerator.timeout_s)
    assert kwargs["cpu"] is True and kwargs["kwargs_handlers"][0].timeout.total_seconds() == 42


@pytest.mark.slow
def test_two_machines_on_localhost_match_one_machine_with_two_processes(tmp_path):
    """Multi-node `accelerate launch`: two launchers (machine ranks 0 and 1, one process each) meet at
    a main address, as on two machines. Same seed, same world size: the same result as torchrun's
    two processes on one machine."""
    port, runs = str(_free_port()), {"machines": tmp_path / "machines", "torchrun": tmp_path / "torchrun"}
    launchers = [
        subprocess.Popen(
            [
                "accelerate",
                "launch",
                "--multi_gpu",
                "--num_machines",
                "2",
                "--machine_rank",
                str(rank),
                "--main_process_ip",
                "127.0.0.1",
                "--main_process_port",
                port,
                "--num_processes",
                "2",
                "--mixed_precision",
                "no",
                "--dynamo_backend",
                "no",
                "-m",
                "saneloop",
                "+recipe=classify",
                *SMALL,
                f"hydra.run.dir={runs['machines']}",
            ],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in launchers]
    assert [p.returncode for p in launchers] == [EXIT_PASSED, EXIT_PASSED], outputs
    assert "PASSED validation accuracy" in outputs[0] and "PASSED" not in outputs[1]
    _launched(
        [
            "torchrun",
            "--nproc_per_node",
            "2",
            "-m",
            "saneloop",
            "+recipe=classify",
            *SMALL,
            f"hydra.run.dir={runs['torchrun']}",
        ],
        tmp_path,
    )
    reports = {name: json.loads((path / "report.json").read_text()) for name, path in runs.items()}
    assert reports["machines"]["metrics"] == reports["torchrun"]["metrics"]
    assert reports["machines"]["metrics"]["count"] == 449
