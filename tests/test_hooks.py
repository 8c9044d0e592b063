"""The train loop's hook protocol (issue 24): checks return verdicts and the train stage runs them as gates;
a hook's state goes into every checkpoint under its name and comes back on resume (also from checkpoints
written before the hooks, which kept the data order's fingerprints under `order`)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from saneloop.engine import checkpoint
from saneloop.engine.checkpoint import Checkpointer, CheckpointPlan, Resumed
from saneloop.engine.hooks import TrainHook
from tests.conftest import FAST, REPO, assert_halted_at, run_pipeline, stop_after

RUNNERS = {"GateHalt", "GateRunner"}  # what running a gate takes: the runner, or the halt it raises


def _runs_a_gate(path: Path) -> list[str]:
    """Where `path` imports the gate runner or its halt, or calls a gate runner (`gates(...)`, `x.gates(...)`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (
            (node.module or "").endswith(("engine.gates", "engine")) or RUNNERS & {a.name for a in node.names}
        ):
            found.append(f"{node.lineno}: imports {ast.unparse(node)}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("gates", *RUNNERS):
                found.append(f"{node.lineno}: calls {ast.unparse(func)}")
        elif isinstance(node, ast.Name) and node.id in RUNNERS:
            found.append(f"{node.lineno}: names {node.id}")
    return found


def test_no_check_runs_a_gate_or_raises_gate_halt():
    """Checks return verdicts; the stages run the gates (record, agree across processes, halt)."""
    offenders = {
        str(path.relative_to(REPO)): where
        for path in sorted((REPO / "saneloop" / "checks").rglob("*.py"))  # gates and what they are made of
        if (where := _runs_a_gate(path))
    }
    assert not offenders, offenders


def test_the_gate_runner_check_sees_a_check_that_runs_its_gate(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def watch(self, verdict):\n    self.gates(GATE, lambda s: verdict)\n")
    assert _runs_a_gate(planted) == ["2: calls self.gates"]


class _Counter(TrainHook):
    """A hook with state: how many steps it saw."""

    name = "counter"

    def __init__(self) -> None:
        self.seen: list[int] = []

    def state_dict(self) -> dict:
        return {"seen": list(self.seen)}

    def load_state_dict(self, state: dict) -> None:
        self.seen = list(state["seen"])


class _Order(_Counter):
    name = "order"


class _OneProcess:
    num_processes, process_index, is_main_process, device = 1, 0, True, torch.device("cpu")

    def get_state_dict(self, model):
        return model.state_dict()

    def unwrap_model(self, model):
        return model

    def wait_for_everyone(self) -> None:
        pass


def _checkpointer(run_dir: Path, hooks: tuple[TrainHook, ...], resumed: Resumed | None = None) -> Checkpointer:
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    plan = CheckpointPlan(run_dir, 0, 2, "", lambda: [], "torch.nn.Linear", resumed)
    loader = DataLoader(range(8), batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0))
    return Checkpointer(plan, _OneProcess(), model, optimizer, None, loader, hooks)


def _restored(run_dir: Path, payload: dict, hook: TrainHook) -> TrainHook:
    path = checkpoint.path_for(run_dir, int(payload["step"]))
    _checkpointer(run_dir, (hook,), Resumed(path, payload)).restore([])
    return hook


def test_a_hooks_state_is_saved_under_its_name_and_restored_on_resume(tmp_path):
    hook = _Counter()
    saver = _checkpointer(tmp_path, (hook, TrainHook()))
    hook.seen = [1, 2, 3]
    saver.save(3, [torch.tensor(0.5)] * 3)
    payload = checkpoint.load(checkpoint.path_for(tmp_path, 3))
    assert payload["hooks"] == {"counter": {"seen": [1, 2, 3]}}  # a hook without a name saves nothing
    assert _restored(tmp_path, payload, _Counter()).seen == [1, 2, 3]


def test_a_checkpoint_from_before_the_hooks_restores_the_data_order(tmp_path):
    saver = _checkpointer(tmp_path, ())
    saver.save(3, [torch.tensor(0.5)] * 3)
    payload = checkpoint.load(checkpoint.path_for(tmp_path, 3))
    del payload["hooks"]
    payload["order"] = {"seen": [7, 8]}  # where the data order's fingerprints were kept
    assert _restored(tmp_path, payload, _Order()).seen == [7, 8]


def test_two_hooks_cannot_save_under_one_name():
    from saneloop.stages.train_hooks import TrainHooks

    with pytest.raises(ValueError, match="counter"):
        TrainHooks([_Counter(), _Counter()], lambda gate, compute: compute(None))


def test_the_data_orders_fingerprints_survive_a_resume(tmp_path):
    """One order every epoch, resumed in epoch 0 (step 20 of 22): data_order compares epoch 1 with the
    fingerprints of epoch 0's first batches, drawn before the resume and kept in the checkpoint."""
    overrides = [*FAST, "loader.train._target_=bench.plants.fixed_order_loader", "checkpoint.every=10"]
    overrides.append(stop_after("data_order"))
    code, report = run_pipeline(tmp_path, *overrides)
    assert_halted_at(code, report, "train", "data_order")
    assert [p.name for p in checkpoint.complete(tmp_path)] == ["step-00000010.pt", "step-00000020.pt"]
    assert checkpoint.load(checkpoint.path_for(tmp_path, 20))["hooks"]["order"]["epochs"][0]  # epoch 0's first
    code, report = run_pipeline(tmp_path, *overrides, f"resume={tmp_path}")
    found = assert_halted_at(code, report, "train", "data_order")
    assert "epoch 1 starts with the same 2 batches as epoch 0" in found["message"]
    assert report["checkpoint"]["resumed_from"]["step"] == 20
