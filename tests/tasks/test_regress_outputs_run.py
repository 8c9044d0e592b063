"""Regress with three targets per item on three scales (examples/multi_output), end to end: every gate
passes, and the bugs its gates exist for are caught per output."""

from __future__ import annotations

import json

import pytest
import torch

from saneloop.errors import EXIT_HALTED, EXIT_INPUT_ERROR, EXIT_PASSED
from saneloop.runner import compose_config, run_config
from tests.conftest import REPO, assert_every_gate_passed, assert_halted_at, gate, not_applicable, stop_after

EXAMPLE = REPO / "examples" / "multi_output"
QUIET = ["output.progress=false", "output.save_weights=false", "output.figures=false"]


@pytest.fixture(autouse=True)
def _importable(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))


def run(run_dir, *overrides: str) -> tuple[int, dict]:
    cfg, _ = compose_config("regress", ["data=three_scales", *QUIET, *overrides], EXAMPLE / "conf")
    code = run_config(cfg, run_dir).exit_code
    return code, json.loads((run_dir / "report.json").read_text())


def shuffled_output(column: int = 0, **kwargs):
    """three_scales with one output's targets permuted across items (both splits): that output no longer
    follows the inputs; the other two still do."""
    from three_scales import three_scales

    pairs = []
    for k, split in enumerate(three_scales(**kwargs)):
        x, y = split.tensors
        y = y.clone()
        y[:, column] = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(k)), column]
        pairs.append(torch.utils.data.TensorDataset(x, y))
    return tuple(pairs)


def test_three_outputs_on_three_scales_pass_every_gate_with_r2_per_output(tmp_path):
    code, report = run(tmp_path, "train.epochs=15")  # 10 epochs on the carved 540 rows: output 0 at R^2 0.59
    assert code == EXIT_PASSED, report
    assert_every_gate_passed(report, not_applicable("regress"))
    metrics, baselines = report["metrics"], report["baselines"]
    assert all(metrics[f"r2_{j}"] > 0.6 for j in range(3)), metrics
    assert metrics["r2"] == pytest.approx(sum(metrics[f"r2_{j}"] for j in range(3)) / 3)
    assert 0.1 < metrics["rmse_0"] < 0.5 and 5 < metrics["rmse_1"] < 30 and 300 < metrics["rmse_2"] < 2000  # y's units
    assert abs(baselines["mean_r2"]) < 0.05 and "mean_rmse_2" in baselines
    assert "each output's" in gate(report, "init_bias")["message"]
    assert "mean over the 3 outputs" in gate(report, "init_loss")["message"]


def test_one_output_shuffled_apart_from_the_inputs_halts_at_input_independent(tmp_path):
    code, report = run(
        tmp_path, f"data._target_={__name__}.shuffled_output", "+data.column=0", stop_after("input_independent")
    )
    found = assert_halted_at(code, report, "baselines", "input_independent")
    assert "1 of 3 do not (output 0:" in found["message"], found["message"]


def test_raw_targets_on_three_scales_are_not_rescaled_and_the_gates_say_standardise(tmp_path):
    """On raw targets the MSE is output 2's (sd 2000): training serves it and leaves outputs 0 and 1 behind."""
    code, report = run(tmp_path, "data.target_shift=0", "data.target_scale=1", stop_after("input_independent"))
    message = gate(report, "init_loss")["message"]
    assert "spreads differ by" in message and "standardise the targets per output" in message
    assert gate(report, "init_loss")["value"] > 1e5  # the loss in the user's units: saneloop changed nothing
    found = assert_halted_at(code, report, "baselines", "input_independent")
    assert "2 of 3 do not (output 0:" in found["message"] and "outputs on scales far apart" in found["message"]


def test_a_model_of_the_wrong_width_is_refused_before_training(tmp_path):
    code, report = run(tmp_path, "model.out_features=2")
    assert code == EXIT_INPUT_ERROR and "2 values per sample" in report["error"] and "task.outputs=3" in report["error"]
    assert [s["name"] for s in report["stages"]] == ["setup"]


def test_data_of_three_targets_under_task_outputs_1_halts_naming_the_key(tmp_path):
    code, report = run(tmp_path, "task.outputs=1", "data.target_shift=0", "data.target_scale=1", stop_after("targets"))
    assert code == EXIT_HALTED
    found = assert_halted_at(code, report, "setup", "targets")
    assert "3 values per item" in found["message"] and "set task.outputs" in found["message"].lower()
    assert "num_classes" not in found["message"]


def test_from_python_the_number_of_outputs_comes_from_the_model(tmp_path):
    from three_scales import three_scales

    import saneloop
    from saneloop.models import MLP

    data = three_scales(target_shift=[1.0, 150.0, 10_000.0], target_scale=[0.5, 30.0, 2000.0])
    model = MLP(10, 3, hidden=64, head_scale=0.1)
    result = saneloop.run(
        model=model, data=data, task="regress", overrides=[*QUIET, "stop_after=sanity"], run_dir=tmp_path
    )
    assert result.status == "stopped", result.verdicts
    assert "each output's training targets" in result.verdict("init_bias").message
