"""pretrained_lr: a learning rate that destroys pretrained features halts where the model first trains."""

from __future__ import annotations

from functools import partial

import torch

from saneloop.checks import lr_keeps_pretraining
from saneloop.checks.pretrained_lr import PretrainedLrSettings as Settings
from saneloop.checks.pretrained_lr import judge
from saneloop.tasks import Classify
from tests.conftest import FAST, assert_halted_at, run_pipeline, stop_after


def _curve(*losses: float) -> list[tuple[int, float, float]]:
    return [(5 * k, loss, 0.02 if k else 0.0) for k, loss in enumerate(losses)]


def test_unit_a_loss_that_jumps_and_stays_halts_naming_the_learning_rate():
    """Issue 20: a pretrained GPT-2 at 3e-2 went 2.65 -> 3.80 nats in 5 steps and stayed worse."""
    verdict = judge(_curve(2.65, 3.80, 3.6, 3.5, 3.4), 3e-2, Settings())
    assert not verdict.passed and "optim.lr=0.03 destroys what pretraining learned" in verdict.message
    assert "2.65 (step 0) -> 3.8 (step 5)" in verdict.message


def test_unit_a_rise_that_recovers_or_a_falling_loss_passes():
    assert judge(_curve(2.65, 3.8, 2.9, 2.7, 2.6), 1e-3, Settings()).passed
    assert judge(_curve(2.65, 2.5, 2.4, 2.3, 2.2), 1e-4, Settings()).passed


def _pretrained():
    """A small MLP fitted to overlapping blobs, and held-out blobs of the same kind."""
    gen = torch.Generator().manual_seed(0)
    centres = 1.5 * torch.randn(4, 8, generator=gen)
    y = torch.randint(0, 4, (512,), generator=gen)
    x = centres[y] + torch.randn(512, 8, generator=gen)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x[:384]), y[:384]).backward()
        optimizer.step()
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, 384, 64)]
    return model, batches, [(x[384:448], y[384:448]), (x[448:], y[448:])]


def test_the_function_on_its_own_at_a_fine_and_a_destroying_learning_rate():
    model, train, held_out = _pretrained()
    torch.manual_seed(0)
    fine = lr_keeps_pretraining(model, Classify(4), train, held_out, partial(torch.optim.SGD, lr=1e-3))
    assert fine.passed, fine.message
    torch.manual_seed(0)
    far = lr_keeps_pretraining(model, Classify(4), train, held_out, partial(torch.optim.SGD, lr=10.0))
    assert not far.passed and "optim.lr=10 destroys" in far.message


def test_a_pretrained_classifier_at_a_learning_rate_for_training_from_scratch_halts_at_sanity(tmp_path):
    plant = ["model._target_=bench.plants.pretrained.NotebookPretrainedMLP", "optim.lr=0.3"]
    code, report = run_pipeline(tmp_path, *plant, *FAST, stop_after("pretrained_lr"))
    found = assert_halted_at(code, report, "sanity", "pretrained_lr")
    assert "optim.lr=0.3 destroys what pretraining learned" in found["message"]


def test_input_independents_message_never_concludes_against_its_own_figures():
    """Issue 20: "lead +0.405 ± 0.006 (68 SE) ..., so it learns no more from the inputs than from their absence"."""
    from saneloop.checks.input_independent import InputIndependentSettings
    from saneloop.checks.measure.paired import conclude, lead

    zeroed = torch.full((400,), 3.2) + 0.1 * torch.randn(400, generator=torch.Generator().manual_seed(0))
    clear, none = lead(zeroed, zeroed - 0.405), lead(zeroed, zeroed)
    settings = InputIndependentSettings()
    said, why = conclude(clear, settings, False, 3e-2, "labels shuffled")
    assert "learns no more" not in said and "a clear lead, yet not a pass" in said
    assert "optim.lr=0.03" in why and "pretrained" in why and "shuffled" not in why
    assert conclude(none, settings, False, 3e-2, "labels shuffled") == (
        ", so it learns no more from the inputs than from their absence",
        "labels shuffled",
    )
