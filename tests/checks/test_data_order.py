from saneloop.engine import checkpoint
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

RESUMABLE = ["train.max_steps=60", "checkpoint.every=25", "output.progress=false", "output.save_weights=false"]


def test_pipeline_halts_in_train_when_every_epoch_has_one_order(tmp_path):
    code, report = run_pipeline(
        tmp_path, *FAST, "loader.train._target_=bench.plants.fixed_order_loader", stop_after("data_order")
    )
    found = assert_halted_at(code, report, "train", "data_order")
    assert "epoch 1 starts with the same 2 batches as epoch 0" in found["message"]


def test_default_loader_gives_a_new_order_every_epoch(default_run):
    _, report, _ = default_run
    assert gate(report, "data_order")["status"] == "passed"


def _resumed(run_dir, *overrides):
    """Run to step 60 (epochs of 19 batches), keep the step-50 checkpoint (epoch 2, batch 12), resume."""
    code, _ = run_pipeline(run_dir, *RESUMABLE, *overrides)
    checkpoint.path_for(run_dir, 60).unlink()
    return run_pipeline(run_dir, *RESUMABLE, *overrides, f"resume={run_dir}")


def test_a_resume_continues_the_uninterrupted_order(tmp_path):
    code, report = _resumed(tmp_path)
    assert code == 0, report
    found = gate(report, "resume_order")
    assert found["status"] == "passed" and "epoch 2, batches 12..13" in found["message"]


def test_a_resume_that_replays_epoch_0s_order_halts(tmp_path):
    code, report = _resumed(
        tmp_path, "loader.train._target_=bench.plants.counting_order_loader", stop_after("resume_order")
    )
    found = assert_halted_at(code, report, "train", "resume_order")
    assert "they are epoch 0's instead" in found["message"]


def test_a_sequential_loader_is_not_expected_to_change_its_order():
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

    from saneloop.checks.data_order import shuffled

    data = TensorDataset(torch.arange(10))
    assert not shuffled(DataLoader(data, shuffle=False)) and shuffled(DataLoader(data, shuffle=True))
    given = DataLoader(data, batch_sampler=BatchSampler(RandomSampler(data), 2, False))  # .sampler is sequential
    assert shuffled(given)
