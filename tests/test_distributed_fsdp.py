"""Sharded training (FSDP2, `+cluster=fsdp`) on 2 CPU processes with gloo: the classify recipe runs, every
gate runs or says why not, the saved weights are the gathered full model; DeepSpeed and the like refused."""

from __future__ import annotations

import json

import pytest
import torch

from saneloop.checks.replicas import ReplicaWatch
from saneloop.errors import EXIT_INPUT_ERROR
from saneloop.runner import run_config
from tests.conftest import NOT_APPLICABLE, compose_cfg, gate, run_pipeline
from tests.test_distributed import _last_checkpoint, _launched, _one_process_metrics

FSDP = ["+cluster=fsdp", "train.epochs=5", "output.progress=false", "gates.overfit.max_steps=100"]
# One process, the same effective batch (2 x 64 = 128), the same 5 epochs and seeds, measured on this
# recipe: test accuracy 0.8842 ± 0.0151 (FSDP's own: 0.8909 ± 0.0147, bit for bit DDP's 2-process run).
ONE_PROCESS_ACCURACY = 0.8842


def test_fsdp_on_two_processes_runs_the_classify_recipe(tmp_path):
    """~35 s on 2 cores: every gate passed or skipped with its reason, the weights gathered whole, the
    test accuracy in the band of one process's."""
    run_dir = tmp_path / "run"
    _launched(
        ["torchrun", "--nproc_per_node", "2", "-m", "saneloop", "+recipe=classify", *FSDP, f"hydra.run.dir={run_dir}"],
        tmp_path,
    )
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "passed"
    for stage in report["stages"]:
        for g in stage["gates"]:
            want = "skipped" if g["name"] in NOT_APPLICABLE - {"replicas"} else "passed"
            assert g["status"] == want and g["message"], f"{stage['name']}/{g['name']}: {g['status']}: {g['message']}"
    assert any(n.startswith("FSDP2 <accelerator.fsdp.enabled>") for n in report["notes"]), report["notes"]
    assert "before FSDP sharded them, all 6 parameter tensors were identical" in gate(report, "replicas")["message"]
    metrics = report["metrics"]
    assert abs(metrics["accuracy"] - ONE_PROCESS_ACCURACY) < 3 * metrics["accuracy_se"], metrics
    alone = _one_process_metrics(run_dir / "model.safetensors")  # the gathered weights, evaluated unsharded
    assert alone["accuracy"] == metrics["accuracy"] and alone["loss"] == pytest.approx(metrics["loss"], rel=1e-6)
    last = _last_checkpoint(run_dir)  # full states: plain tensors, the optimizer's keyed by parameter name
    assert all(type(v) is torch.Tensor for v in last["model"].values())
    assert set(last["optimizer"]["state"]) == set(last["model"])


@pytest.mark.parametrize("launcher", ["ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_MEGATRON_LM"])
def test_deepspeed_and_accelerates_own_sharding_are_refused_before_anything_runs(tmp_path, monkeypatch, launcher):
    monkeypatch.setenv(launcher, "true")  # what `accelerate launch --use_deepspeed` (or its config) sets
    code, report = run_pipeline(tmp_path, "train.epochs=1")
    assert code == EXIT_INPUT_ERROR and report["status"] == "error" and not report["stages"]
    assert f"{launcher}=true" in report["error"] and "+cluster=fsdp" in report["error"]


def test_resuming_a_sharded_run_is_refused(tmp_path):
    """Refused before anything runs (a refused resume leaves the run it names as it was: no report written)."""
    result = run_config(compose_cfg("+cluster=fsdp", f"resume={tmp_path}"), tmp_path / "new")
    assert result.exit_code == EXIT_INPUT_ERROR
    assert "resume= with accelerator.fsdp.enabled=true is not supported" in result.error


def test_replicas_compares_the_whole_models_before_sharding():
    """fully_shard keeps each process's slice of its own copy: models that differ (a seed that depends on the
    rank) would be stitched together unseen, so they are compared whole first (the other process played by
    a gather that adds its differing hashes)."""
    model = torch.nn.Linear(3, 2)
    same = ReplicaWatch(model, lambda h: torch.cat([h, h]), processes=2, first_steps=2, every=0)
    assert same.before_sharding().passed and "all 2 parameter tensors were identical" in same.last[1].message
    other = ReplicaWatch(model, lambda h: torch.cat([h, h + (h == h[0])]), processes=2, first_steps=2, every=0)
    verdict = other.before_sharding()
    assert not verdict.passed and "1 of 2 parameter tensors differ" in verdict.message, verdict.message
    assert "before FSDP" not in verdict.message
