"""Checkpoint files: only complete ones count, an unreadable one is passed over, a model that does
not fit is described key by key."""

from __future__ import annotations

import pytest
import torch

from saneloop.engine import checkpoint
from saneloop.record.atomic import leftovers, replacing


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
