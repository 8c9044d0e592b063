"""CUDA determinism as PyTorch documents it (notes/randomness): cuBLAS's workspace setting in the environment
before CUDA starts (before the run builds its Accelerator), cuDNN deterministic and not benchmarking, torch's
deterministic algorithms; on a GPU, two runs give bit-identical losses."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch

from saneloop.data import seeding
from saneloop.data.seeding import CUBLAS_WORKSPACE, deterministic_cuda_env, seed_everything
from saneloop.runner import pipeline
from saneloop.runner.isolation import isolated
from tests.conftest import REPO

NAME, VALUE = CUBLAS_WORKSPACE


def _settings(deterministic: bool) -> SimpleNamespace:
    acc = SimpleNamespace(cpu=True, gradient_accumulation_steps=1, mixed_precision=None, timeout_s=60)
    return SimpleNamespace(deterministic=deterministic, accelerator=acc)


@pytest.mark.parametrize("deterministic", [True, False])
def test_the_cublas_setting_is_in_the_environment_before_the_accelerator_is_built(monkeypatch, deterministic):
    monkeypatch.delenv(NAME, raising=False)
    seen = []
    monkeypatch.setattr(pipeline, "Accelerator", lambda **kwargs: seen.append(seeding.os.environ.get(NAME)))
    _, late = pipeline.make_accelerator(_settings(deterministic))
    assert seen == [VALUE if deterministic else None] and late == []


def test_a_cublas_setting_the_user_made_is_kept(monkeypatch):
    monkeypatch.setenv(NAME, ":16:8")
    assert deterministic_cuda_env(True) is None
    assert seeding.os.environ[NAME] == ":16:8"


def test_cuda_started_before_the_setting_is_said_with_the_fix(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    note = deterministic_cuda_env(True)
    assert note is not None and f"export {NAME}={VALUE}" in note


def test_deterministic_seeding_turns_cudnn_and_torch_deterministic_and_isolation_restores_them():
    before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    with isolated():
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = True, False
        seed_everything(0, deterministic=True)
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert torch.are_deterministic_algorithms_enabled()
    assert (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark) == before


_TWICE = """
import torch
from saneloop.data.seeding import deterministic_cuda_env, seed_everything
deterministic_cuda_env(True)  # before CUDA starts, as the run does
seed_everything(0, True)
model = torch.nn.Sequential(torch.nn.Conv1d(4, 64, 5), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(10))
model = model.cuda()
x, y = torch.randn(256, 4, 60, device="cuda"), torch.randint(0, 10, (256,), device="cuda")
model(x[:2])
opt = torch.optim.AdamW(model.parameters(), 1e-3)
for _ in range(30):
    with torch.autocast("cuda", torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad(); loss.backward(); opt.step()
    print(loss.item().hex())
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA determinism needs CUDA")
def test_two_deterministic_runs_on_cuda_give_bit_identical_losses():
    runs = [
        subprocess.run([sys.executable, "-c", _TWICE], cwd=REPO, capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].split()) == 30
