"""Checkpoints, interrupts and resume, end to end: a run stopped by SIGTERM or killed by SIGKILL
while it writes a checkpoint resumes to exactly the weights and metrics of a run never stopped."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from saneloop import stages
from saneloop.cli.resume_argv import resume_argv
from saneloop.engine import checkpoint
from saneloop.engine.resume import NOT_RUN_AGAIN
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_INTERRUPTED, EXIT_PASSED, InputError
from saneloop.record.atomic import leftovers, replacing
from saneloop.runner import run_config
from tests.conftest import REPO, compose_cfg, gate, run_cli, run_pipeline, start_cli

# Small, but crossing epochs (22 batches each) with checkpoints mid-epoch, with dropout (global RNG)
# and a scheduler, so every piece of restored state matters.
SMALL = [
    "train.max_steps=60",
    "checkpoint.every=25",
    "model.dropout=0.1",
    "output.progress=false",
    "scheduler={_target_:torch.optim.lr_scheduler.StepLR,_partial_:true,step_size:20,gamma:0.8}",
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[dict, dict, Path]:
    """The same run, never interrupted: its report, final weights and run dir (copy it to change it)."""
    run_dir = tmp_path_factory.mktemp("reference")
    code, report = run_pipeline(run_dir, *SMALL)
    assert code == EXIT_PASSED, report
    return report, load_file(run_dir / "model.safetensors"), run_dir


def _copy(reference: tuple[dict, dict, Path], tmp_path: Path) -> Path:
    run_dir = tmp_path / "run"
    shutil.copytree(reference[2], run_dir)
    return run_dir


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"the run ended before {path.name} appeared:\n{proc.stdout.read()}"
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.02)


def _assert_same_as(reference: tuple[dict, dict, Path], run_dir: Path) -> dict:
    ref_report, ref_weights, _ = reference
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "passed", report
    weights = load_file(run_dir / "model.safetensors")
    assert weights.keys() == ref_weights.keys()
    for name, tensor in ref_weights.items():
        assert (weights[name] == tensor).all(), f"{name} differs from the uninterrupted run"
    assert report["metrics"] == ref_report["metrics"]
    final = checkpoint.load(checkpoint.path_for(run_dir, 60))["losses"]
    assert torch.equal(final, checkpoint.load(checkpoint.path_for(reference[2], 60))["losses"])  # every step's loss
    assert gate(report, "loss_decreases")["value"] == gate(ref_report, "loss_decreases")["value"]
    return report


@pytest.mark.slow
def test_sigterm_during_train_checkpoints_and_resume_matches_uninterrupted_run(reference, tmp_path):
    proc = start_cli(tmp_path, *SMALL, "model._target_=bench.plants.SlowMLP", "+model.delay=0.02")
    _wait_for(checkpoint.path_for(tmp_path, 25), proc)  # train is under way
    proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_INTERRUPTED, output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["status"] == "interrupted" and "interrupted by SIGTERM at train step" in report["notes"][-1]
    stopped_at = report["checkpoint"]["step"]
    assert 25 <= stopped_at < 60 and checkpoint.path_for(tmp_path, stopped_at).is_file()
    assert report["checkpoint"]["resume_command"] == f"python -m saneloop resume={tmp_path}"
    assert f"resume with: python -m saneloop resume={tmp_path}" in output

    resumed = run_cli(tmp_path, f"resume={tmp_path}")  # the original overrides come from .hydra/
    assert resumed.returncode == EXIT_PASSED, resumed.stdout + resumed.stderr
    report = _assert_same_as(reference, tmp_path)
    assert f"at train step {stopped_at} of 60" in report["notes"][0]
    earlier = [
        g
        for s in report["stages"]
        if s["name"] not in ("train", "evaluate")
        for g in s["gates"]
        if g["status"] != "skipped"
    ]  # a gate that does not apply is simply asked again
    assert earlier and all(g["message"].endswith(NOT_RUN_AGAIN) for g in earlier)
    assert not gate(report, "loss_decreases")["message"].endswith(NOT_RUN_AGAIN)


@pytest.mark.slow
def test_sigkill_while_writing_a_checkpoint_resumes_from_the_last_complete_one(reference, tmp_path):
    marker = tmp_path.parent / f"{tmp_path.name}.halfway"
    plant = (
        f"import bench.plants as p; p.die_halfway_through_checkpoint(after=2, marker={str(marker)!r}); "
        "from saneloop.cli import main; main()"
    )
    proc = start_cli(tmp_path, *SMALL, "checkpoint.every=10", code=plant)
    _wait_for(marker, proc)  # half of the step-30 checkpoint is on disk
    proc.kill()
    proc.communicate(timeout=60)
    [partial] = leftovers(checkpoint.folder(tmp_path))
    assert partial.name.startswith(".step-00000030.pt.") and partial.stat().st_size > 0
    assert [p.name for p in checkpoint.complete(tmp_path)] == ["step-00000010.pt", "step-00000020.pt"]

    code, _ = run_pipeline(tmp_path, *SMALL, "checkpoint.every=10", f"resume={tmp_path}")
    assert code == EXIT_PASSED
    report = _assert_same_as(reference, tmp_path)
    assert report["checkpoint"]["resumed_from"]["path"].endswith("step-00000020.pt")
    assert not partial.exists()  # the dead writer's temp file is cleaned up


def test_resume_with_another_config_is_refused_naming_the_keys(reference, tmp_path):
    run_dir = _copy(reference, tmp_path)
    before = (run_dir / "report.json").read_text()
    result = run_config(compose_cfg(*SMALL, "optim.lr=0.01", "checkpoint.every=7", f"resume={run_dir}"), run_dir)
    assert result.exit_code == EXIT_INPUT_ERROR and result.status == "error"
    assert "optim.lr is 0.001 there, 0.01 now" in result.error and "checkpoint.every" not in result.error
    assert (run_dir / "report.json").read_text() == before  # the run it refused keeps its report
    assert [p.name for p in checkpoint.complete(run_dir)] == ["step-00000050.pt", "step-00000060.pt"]


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) -> its content's hash."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_a_refused_resume_changes_nothing_in_the_run_it_refused(reference, tmp_path):
    """An interrupted run's report stays `interrupted`; no TensorBoard file, no log, nothing new in its dir."""
    run_dir = _copy(reference, tmp_path)
    report = json.loads((run_dir / "report.json").read_text())
    (run_dir / "report.json").write_text(json.dumps({**report, "status": "interrupted", "exit_code": 4}))
    (run_dir / ".hydra").mkdir()
    (run_dir / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in ["+recipe=classify", *SMALL]))
    before = _tree(run_dir)
    refused = run_cli(run_dir, f"resume={run_dir}", "optim.lr=0.01")
    assert refused.returncode == EXIT_INPUT_ERROR, refused.stdout + refused.stderr
    assert "optim.lr is 0.001 there, 0.01 now" in " ".join(refused.stderr.split())  # (wrapped to the terminal)
    assert _tree(run_dir) == before


def test_settings_that_change_only_speed_may_change_on_resume(reference, tmp_path):
    """`resume=RUN threads=1`, workers, progress, figures: accepted, and the run ends as it would have."""
    from saneloop.engine.resume import config_differences

    saved = {"threads": None, "loader": {"train": {"num_workers": 0, "batch_size": 64}}, "output": {"figures": True}}
    faster = {"threads": 1, "loader": {"train": {"num_workers": 4, "batch_size": 64}}, "output": {"figures": False}}
    assert config_differences(saved, faster) == []
    assert config_differences(saved, {**faster, "loader": {"train": {"num_workers": 4, "batch_size": 32}}}) == [
        "loader.train.batch_size is 64 there, 32 now"
    ]
    run_dir = _copy(reference, tmp_path)
    (run_dir / "model.safetensors").unlink()
    speed = ["threads=2", "loader.test.num_workers=1", "output.figures=false"]
    code, report = run_pipeline(run_dir, *SMALL, *speed, f"resume={run_dir}")
    assert code == EXIT_PASSED, report
    assert report["metrics"] == reference[0]["metrics"]


def test_resume_from_the_final_checkpoint_reruns_only_what_came_after_train(reference, tmp_path):
    """A crash in evaluate loses nothing: resuming restores the end-of-train checkpoint and evaluates."""
    run_dir = _copy(reference, tmp_path)
    (run_dir / "model.safetensors").unlink()
    code, report = run_pipeline(run_dir, *SMALL, f"resume={run_dir}")
    assert code == EXIT_PASSED
    _assert_same_as(reference, run_dir)
    assert report["checkpoint"]["resumed_from"]["step"] == 60
    assert gate(report, "determinism")["message"].endswith(NOT_RUN_AGAIN)


def test_checkpoint_of_an_incompatible_model_is_refused_naming_what_differs(reference, tmp_path):
    """Same config, changed model code (as if the class grew narrower): refused before any step."""
    run_dir = _copy(reference, tmp_path)
    path = checkpoint.complete(run_dir)[-1]
    payload = checkpoint.load(path)
    payload["model"]["head.weight"] = payload["model"]["head.weight"][:, :128].clone()
    with replacing(path) as handle:
        torch.save(payload, handle)
    code, report = run_pipeline(run_dir, *SMALL, f"resume={run_dir}")
    assert code == EXIT_INPUT_ERROR and report["status"] == "error"
    assert (
        f"checkpoint {path} does not fit the model built from model._target_=saneloop.models.MLP: "
        "head.weight is [10, 128] in the checkpoint, [10, 256] in the model"
    ) in report["error"]


def test_a_crash_in_evaluate_keeps_what_earlier_stages_wrote(tmp_path):
    code, report = run_pipeline(
        tmp_path, "train.max_steps=40", "output.progress=false", "model._target_=bench.plants.CrashInEvalMLP"
    )
    assert code == 1 and report["status"] == "error" and "planted crash in evaluate" in report["error"]
    assert [s["name"] for s in report["stages"]] == list(stages.NAMES)
    assert all(g["status"] in ("passed", "skipped") for s in report["stages"][:-1] for g in s["gates"])
    assert checkpoint.load(checkpoint.path_for(tmp_path, 40))["step"] == 40  # the end-of-train checkpoint
    assert report["checkpoint"]["resume_command"] == f"python -m saneloop resume={tmp_path}"
    assert (tmp_path / "config.yaml").is_file() and not (tmp_path / "model.safetensors").exists()
    assert not leftovers(tmp_path) and not leftovers(checkpoint.folder(tmp_path))


def test_resume_argv_reuses_the_runs_overrides_and_config_dir(tmp_path):
    hydra_dir = tmp_path / "run" / ".hydra"
    hydra_dir.mkdir(parents=True)
    (hydra_dir / "overrides.yaml").write_text(
        f"- +recipe=classify\n- optim.lr=0.01\n- train.epochs=3\n- hydra.run.dir={tmp_path}/run\n"
    )
    (hydra_dir / "hydra.yaml").write_text(
        f"hydra:\n  runtime:\n    cwd: {REPO}\n    config_sources:\n"
        f"    - {{path: {tmp_path}/conf, schema: file, provider: command-line}}\n"
    )
    (tmp_path / "run" / "main.log").touch()  # a run started from the command line: its log is appended to
    argv = resume_argv(["+recipe=classify", "train.epochs=5", f"resume={tmp_path}/run"])
    assert argv == [
        "--config-dir",
        f"{tmp_path}/conf",
        "optim.lr=0.01",
        "+recipe=classify",
        "train.epochs=5",
        f"resume={tmp_path}/run",
        f"hydra.run.dir={tmp_path}/run",
        "hydra.output_subdir=null",
    ]
    assert resume_argv(["+recipe=classify"]) == ["+recipe=classify"]
    (tmp_path / "run" / "main.log").unlink()  # a run started from Python has no log file, and gets none
    assert resume_argv([f"resume={tmp_path}/run"])[-1] == "hydra/job_logging=stdout"
    with pytest.raises(InputError, match="continues that run in its own dir; drop hydra.run.dir=/elsewhere"):
        resume_argv([f"resume={tmp_path}/run", "hydra.run.dir=/elsewhere"])
    with pytest.raises(InputError, match="has no .hydra/overrides.yaml, so it is not a saneloop run dir"):
        resume_argv([f"resume={tmp_path}"])


def test_a_gate_added_since_the_checkpoint_is_no_config_difference_at_its_defaults():
    """A run checkpointed before a newer saneloop added a gate resumes; a setting of that gate changed by the
    user is still a difference (it could not have been set when the checkpoint was written)."""
    from saneloop.engine.resume import config_differences

    saved = {"seed": 0, "gates": {"overfit": {"enabled": True, "waive": None}}}
    added = {"last_batch": {"enabled": True, "waive": None}}
    current = {"seed": 0, "gates": {**saved["gates"], **added}}
    assert config_differences(saved, current) == []
    changed = {"seed": 0, "gates": {**saved["gates"], "last_batch": {"enabled": False, "waive": None}}}
    assert config_differences(saved, changed) == ["gates.last_batch.enabled is (absent) there, False now"]
    assert config_differences(saved, {**current, "seed": 1}) == ["seed is 0 there, 1 now"]
