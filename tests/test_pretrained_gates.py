"""Gates that know a model is pretrained (issue 20, item 2), as a user meets them: a classifier pretrained on
part of the data and trained on with more, through `saneloop.run(model=..., data=..., task="classify")`.
Each run stops after sanity, where the model is first judged."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import saneloop
from bench.plants.pretrained import fit_on_digits
from saneloop.datasets import digits
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED, InputError
from saneloop.models import MLP

QUICK = ["output.progress=false", "output.save_weights=false", "output.figures=false", "stop_after=sanity"]


def pretrained_classifier(items: int = 400, steps: int = 150) -> nn.Module:
    """The recipe's MLP (hidden 32) trained in a plain loop on the first `items` training digits: a model
    built and trained in a notebook, which says nothing about its past."""
    torch.manual_seed(0)
    return fit_on_digits(MLP(64, 10, hidden=32), items, steps)


def _verdict(result, name: str) -> dict:
    return next(g for s in result.report["stages"] for g in s["gates"] if g["name"] == name)


def test_a_classifier_trained_on_with_more_data_passes_with_its_heads_bias_untouched(tmp_path, monkeypatch):
    """Issue 20: halted at sanity/init_loss ("targets leaked"), after init_bias overwrote the trained head."""
    model = pretrained_classifier()
    set_biases: list = []
    monkeypatch.setattr(saneloop.tasks.Classify, "init_bias", lambda self, *a: set_biases.append(a) or "set")
    result = saneloop.run(model=model, data=digits(), task="classify", overrides=QUICK, run_dir=tmp_path / "run")
    assert result.exit_code == EXIT_PASSED, result.report
    assert set_biases == []  # the pretrained head's bias is left as it came
    init_bias = _verdict(result, "init_bias")
    assert init_bias["status"] == "skipped" and "head.bias is left as it came" in init_bias["message"]
    assert "its loss at init" in init_bias["message"]  # the source: the model itself, found from its loss
    init_loss = _verdict(result, "init_loss")
    assert init_loss["status"] == "passed" and "clearly below the prior's" in init_loss["message"]
    assert any(n.startswith("pretrained") for n in result.report["notes"])


def test_a_model_with_nothing_trainable_is_refused_before_training(tmp_path):
    model = MLP(64, 10, hidden=8).requires_grad_(False)
    overrides = [*QUICK[:-1], "stop_after=setup"]
    result = saneloop.run(model=model, data=digits(), task="classify", overrides=overrides, run_dir=tmp_path / "run")
    assert result.exit_code == EXIT_INPUT_ERROR, result.report
    assert "every one of the model's 6 parameter tensors is frozen (requires_grad=False)" in result.report["error"]
    assert [g["name"] for s in result.report["stages"] for g in s["gates"]][-1] != "determinism"  # before any step


def test_init_from_says_which_head_is_pretrained_and_init_bias_follows(tmp_path):
    """The same pretrained classifier named by init_from: its head loaded (left alone, judged below the prior),
    or declared new (init_from.new=[head.*]: its bias set from the data, judged as a fresh head)."""
    torch.save(pretrained_classifier().state_dict(), tmp_path / "pretrained.pt")
    config = [*QUICK, "model.hidden=32", f"init_from.path={tmp_path / 'pretrained.pt'}"]
    loaded = saneloop.run("classify", config, run_dir=tmp_path / "loaded")
    assert loaded.exit_code == EXIT_PASSED, loaded.report
    assert "the model is pretrained (init_from loaded 6 keys)" in _verdict(loaded, "init_bias")["message"]
    assert "clearly below the prior's" in _verdict(loaded, "init_loss")["message"]
    fresh = saneloop.run("classify", [*config, "init_from.new=[head.*]"], run_dir=tmp_path / "fresh")
    assert fresh.exit_code == EXIT_PASSED, fresh.report
    assert (
        _verdict(fresh, "init_bias")["status"] == "passed"
        and "set head.bias" in _verdict(fresh, "init_bias")["message"]
    )
    assert "its final layer head is new" in " ".join(fresh.report["notes"])


def test_weights_that_never_learned_this_task_halt_at_init_loss_at_the_priors(tmp_path):
    """init_from names weights whose loss at init is the prior's: a pretrained model that knows nothing here."""
    torch.manual_seed(5)
    torch.save(MLP(64, 10, hidden=32).state_dict(), tmp_path / "untrained.pt")
    config = [*QUICK, "model.hidden=32", f"init_from.path={tmp_path / 'untrained.pt'}"]
    result = saneloop.run("classify", config, run_dir=tmp_path / "run")
    assert result.report["halted_at"] == {"stage": "sanity", "gate": "init_loss"}, result.report
    assert "at the prior's, as if it had never been trained" in _verdict(result, "init_loss")["message"]


def test_the_declaration_is_read_from_the_config_and_a_bad_value_is_refused_by_its_key(tmp_path):
    plant = ["model._target_=bench.plants.pretrained.NotebookPretrainedMLP", *QUICK]
    declared = saneloop.run("classify", [*plant, "model_pretrained=true"], run_dir=tmp_path / "declared")
    assert declared.exit_code == EXIT_PASSED, declared.report
    assert "declared: model_pretrained=true" in _verdict(declared, "init_bias")["message"]
    with pytest.raises(InputError, match="model_pretrained"):
        saneloop.run("classify", [*plant, "model_pretrained=maybe"], run_dir=tmp_path / "bad")
