"""train.compile and mixed precision on the train stage: a compiled run trains and evaluates compiled
while the gates run the module eagerly, its checkpoints hold plain keys (no `_orig_mod.`), so it
resumes eagerly and back; bf16 autocast on CPU trains and evaluates end to end, gates in fp32."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from bench.plants import PrecisionRecordingMLP
from saneloop.engine import checkpoint
from saneloop.engine.checkpoint import eager_keys, model_mismatch
from saneloop.errors import EXIT_PASSED
from saneloop.models import MLP
from tests.conftest import run_pipeline

# Six steps, a checkpoint every three, one test batch shape: what compiling costs stays small.
SHORT = [
    "train.max_steps=6",
    "checkpoint.every=3",
    "loader.test.batch_size=449",
    "gates.loss_decreases.waive='six steps'",
    "output.progress=false",
    "output.figures=false",
]


def _resumed(run_dir: Path, tmp_path: Path, *overrides: str) -> dict:
    """A copy of `run_dir` as if stopped after step 3 (step 6's checkpoint gone), resumed in place."""
    copy = tmp_path / "resumed"
    shutil.copytree(run_dir, copy)
    checkpoint.path_for(copy, 6).unlink()
    code, report = run_pipeline(copy, *SHORT, f"resume={copy}", *overrides)
    assert code == EXIT_PASSED, report
    return report


def test_a_compiled_run_checkpoints_plain_keys_and_resumes_eagerly(tmp_path):
    run_dir = tmp_path / "compiled"
    code, report = run_pipeline(run_dir, *SHORT, "train.compile=true")
    assert code == EXIT_PASSED, report
    assert any("run the model compiled (train.compile)" in note for note in report["notes"])
    saved = checkpoint.load(checkpoint.path_for(run_dir, 6))["model"]
    assert saved and not any("_orig_mod" in key for key in saved)
    assert not any("_orig_mod" in key for key in load_file(run_dir / "model.safetensors"))
    resumed = _resumed(run_dir, tmp_path, "train.compile=false")
    assert resumed["status"] == "passed" and resumed["metrics"]["count"] == 449


@pytest.mark.slow
def test_an_eager_run_resumes_compiled(tmp_path):
    run_dir = tmp_path / "eager"
    code, report = run_pipeline(run_dir, *SHORT)
    assert code == EXIT_PASSED, report
    resumed = _resumed(run_dir, tmp_path, "train.compile=true")
    assert any("compiled" in note for note in resumed["notes"])


def test_a_state_dict_saved_from_a_compiled_module_loads_into_an_eager_one():
    eager = MLP(64, 10)
    state = torch.compile(MLP(64, 10)).state_dict()
    assert all(key.startswith("_orig_mod.") for key in state)
    assert model_mismatch(eager_keys(state), eager.state_dict()) == []
    eager.load_state_dict(eager_keys(state))


def test_bf16_autocast_on_cpu_trains_and_evaluates_and_the_gates_measure_in_fp32(tmp_path):
    PrecisionRecordingMLP.SEEN.clear()
    code, report = run_pipeline(
        tmp_path,
        "model._target_=bench.plants.PrecisionRecordingMLP",
        "accelerator.mixed_precision=bf16",
        "accelerator.cpu=true",
        "train.epochs=5",
        "output.progress=false",
    )
    assert code == EXIT_PASSED, report
    seen = PrecisionRecordingMLP.SEEN
    assert ("train", True, "torch.bfloat16", "torch.bfloat16") in seen  # train steps under autocast
    assert ("eval", True, "torch.bfloat16", "torch.bfloat16") in seen  # and the evaluation
    assert ("train", False, "torch.float32", "torch.float32") in seen  # the gates before train
    assert "mixed precision bf16 in train/evaluate" in " ".join(report["notes"])
    assert all(t.dtype == torch.float32 for t in load_file(tmp_path / "model.safetensors").values())
    assert report["metrics"]["accuracy"] > 0.9
