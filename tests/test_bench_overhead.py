"""The overhead benchmark compares like with like: saneloop's train stage, a raw Accelerate loop and
a plain loop (fed item by item, or gathered as saneloop feeds in-memory tensors) reach the same loss,
bit for bit, from the same init and data order."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
bench_overhead = pytest.importorskip("bench_overhead")


def test_every_loop_ends_at_the_same_loss():
    result = bench_overhead.bench("mlp", rounds=1, steps=30)
    assert result["same_final_loss"], result["final_loss"]
    assert set(result["ratio_to_plain"]) == {"plain", "plain_gathered", "accelerate", "saneloop"}
