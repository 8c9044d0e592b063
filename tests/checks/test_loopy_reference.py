import torch

from bench import plants
from saneloop.checks import matches_reference, model_matches_reference
from saneloop.checks.loopy_reference import LoopyReferenceSettings as Settings
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def _pairwise_loop(a, b):
    return torch.stack([torch.stack([(x - y).pow(2).sum() for y in b]) for x in a])


def test_unit_helper_for_a_users_own_tests():
    a, b = torch.randn(4, 3), torch.randn(5, 3)
    assert matches_reference(lambda x, y: torch.cdist(x, y) ** 2, _pairwise_loop, (a, b)).passed
    wrong = matches_reference(lambda x, y: (x.unsqueeze(1) - y.unsqueeze(0)).pow(2).sum(1), _pairwise_loop, (a, b))
    assert not wrong.passed and "shapes differ" in wrong.message
    off = matches_reference(lambda x, y: torch.cdist(x, y.flip(0)) ** 2, _pairwise_loop, (a, b))
    assert not off.passed and "largest difference" in off.message


def test_unit_integer_inputs_are_generated_in_range():
    seen = []
    matches_reference(lambda t: seen.append(t) or t, lambda t: t, torch.tensor([[2, 5], [3, 4]]), trials=5)
    assert all(int(t.min()) >= 2 and int(t.max()) <= 5 and t.dtype == torch.long for t in seen)


def test_unit_model_gate():
    x = torch.rand(8, 1, 8, 8)
    assert model_matches_reference(plants.RowPoolNet(64, 10), x, Settings()).passed
    assert not model_matches_reference(plants.RowPoolNet(64, 10, transposed=True), x, Settings()).passed


def test_wrong_vectorization_halts_at_sanity(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        "model._target_=bench.plants.RowPoolNet",
        "model.hidden=32",
        "+model.transposed=true",
        *FAST,
        stop_after("loopy_reference"),
    )
    found = assert_halted_at(code, report, "sanity", "loopy_reference")
    assert "transpose" in found["message"]


def test_correct_vectorization_passes_in_a_run(tmp_path):
    code, report = run_pipeline(
        tmp_path, "model._target_=bench.plants.RowPoolNet", "model.hidden=32", *FAST, stop_after("loopy_reference")
    )
    assert gate(report, "loopy_reference")["status"] == "passed"


def test_model_without_reference_skips(default_run):
    assert gate(default_run[1], "loopy_reference")["status"] == "skipped"
