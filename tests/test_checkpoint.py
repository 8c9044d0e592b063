"""Checkpoint files: only complete ones count, an unreadable one is passed over, a model that does
not fit is described key by key."""

from __future__ import annotations

import errno
import io
import os

import pytest
import torch

from saneloop.engine import checkpoint
from saneloop.record.atomic import DiskFull, leftovers, replacing, staged_dir


def _save(run_dir, step, **payload):
    path = checkpoint.path_for(run_dir, step)
    with replacing(path) as handle:
        torch.save({"format": checkpoint.FORMAT, "step": step, **payload}, handle)
    return path


def test_latest_passes_over_an_unreadable_checkpoint(tmp_path):
    _save(tmp_path, 10)
    checkpoint.path_for(tmp_path, 20).write_bytes(b"half a checkpoint")
    path, payload, passed_over = checkpoint.latest(tmp_path)
    assert path.name == "step-00000010.pt" and payload["step"] == 10
    assert len(passed_over) == 1 and "step-00000020.pt cannot be read" in passed_over[0]


def test_temp_files_never_count_and_a_failed_write_leaves_none(tmp_path):
    _save(tmp_path, 10)
    with pytest.raises(RuntimeError):
        with replacing(checkpoint.path_for(tmp_path, 20)) as handle:
            handle.write(b"partial")
            raise RuntimeError("killed mid-write")
    assert [p.name for p in checkpoint.complete(tmp_path)] == ["step-00000010.pt"]
    assert not leftovers(checkpoint.folder(tmp_path))


def test_loading_refuses_pickled_code(tmp_path):
    path = checkpoint.path_for(tmp_path, 5)
    path.parent.mkdir(parents=True)
    torch.save({"format": checkpoint.FORMAT, "step": 5, "evil": print}, path)  # weights_only refuses it
    with pytest.raises(Exception, match="cannot be read"):
        checkpoint.load(path)


def test_model_mismatch_names_missing_extra_and_reshaped_keys():
    saved = {"head.weight": torch.zeros(10, 128), "head.bias": torch.zeros(10), "old.weight": torch.zeros(1)}
    current = {"head.weight": torch.zeros(10, 256), "head.bias": torch.zeros(10), "new.weight": torch.zeros(1)}
    assert checkpoint.model_mismatch(saved, current) == [
        "not in the checkpoint: new.weight",
        "not in the model: old.weight",
        "head.weight is [10, 128] in the checkpoint, [10, 256] in the model",
    ]
    assert checkpoint.model_mismatch(saved, saved) == []


class _OneProcess:
    """What a checkpoint asks of Accelerate, on one process."""

    num_processes, is_main_process = 1, True

    def get_state_dict(self, model):
        return model.state_dict()

    def wait_for_everyone(self):
        pass


def _full_disk(payload, handle):
    """torch.save onto a disk that fills up: the OSError (ENOSPC) ends up as the context of torch's own error."""

    class Full(io.BytesIO):
        def write(self, data):
            if self.tell() > 100:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return super().write(data)

    torch.save(payload, Full())


def test_a_full_disk_is_named_with_the_checkpoint_that_survives(tmp_path, monkeypatch):
    model = torch.nn.Linear(4, 2)
    plan = checkpoint.CheckpointPlan(tmp_path, every=1, keep=2, config_yaml="", gates_so_far=list, model_target="m")
    saver = checkpoint.Checkpointer(plan, _OneProcess(), model, torch.optim.SGD(model.parameters(), lr=0.1), None, [])
    losses = [torch.tensor(1.0)] * 3
    saver.save(1, losses)
    monkeypatch.setattr(checkpoint, "_dump", _full_disk)
    with pytest.raises(OSError) as raised:
        saver.save(2, losses)
    said = str(raised.value)
    assert "inline_container" in str(raised.value.__cause__)  # the error torch raises, with ENOSPC only as context
    assert said.startswith("the disk is full: checkpoint step-00000002.pt could not be written"), said
    assert f"the newest complete one, {checkpoint.path_for(tmp_path, 1)}, is intact" in said
    assert f"resume={tmp_path}" in said and "checkpoint.keep" in said
    assert [p.name for p in checkpoint.complete(tmp_path)] == ["step-00000001.pt"]
    assert not leftovers(checkpoint.folder(tmp_path))


def test_a_full_disk_is_named_for_any_file_written_whole(tmp_path):
    with pytest.raises(DiskFull, match=r"no space left on the device to write .*report\.json"):
        with replacing(tmp_path / "report.json") as handle:
            _full_disk({"a": torch.zeros(100)}, handle)
    assert not (tmp_path / "report.json").exists() and not leftovers(tmp_path)


def test_a_full_disk_is_named_for_a_folder_written_whole(tmp_path):
    with pytest.raises(DiskFull, match="no space left on the device to write into"):
        with staged_dir(tmp_path) as stage:
            with open(stage / "model.safetensors", "wb") as handle:
                _full_disk({"a": torch.zeros(100)}, handle)
    assert list(tmp_path.iterdir()) == []
