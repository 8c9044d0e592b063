"""How saneloop knows a model is pretrained, and whether its head is (issue 20, item 2)."""

from __future__ import annotations

import pytest
import torch

from saneloop.errors import InputError
from saneloop.models import MLP
from saneloop.models.pretrained import load_pretrained
from saneloop.models.pretraining import from_the_loss, known_pretraining, refuse_nothing_trainable


def _loaded(tmp_path, new=()):
    torch.manual_seed(1)
    torch.save(MLP(64, 10, hidden=8).state_dict(), tmp_path / "w.pt")
    model = MLP(64, 10, hidden=8)
    return model, load_pretrained(model, str(tmp_path / "w.pt"), new)


def test_init_from_with_the_head_loaded_is_pretrained_head_included(tmp_path):
    model, loaded = _loaded(tmp_path)
    found = known_pretraining(model, 10, None, loaded, None)
    assert found is not None and found.head and found.source == "init_from loaded 6 keys"


def test_init_from_with_a_head_declared_new_is_a_pretrained_body_under_a_new_head(tmp_path):
    model, loaded = _loaded(tmp_path, new=["head.*"])
    found = known_pretraining(model, 10, None, loaded, None)
    assert found is not None and not found.head


def test_a_declaration_says_so_and_false_wins_over_everything(tmp_path):
    model, loaded = _loaded(tmp_path)
    assert known_pretraining(MLP(64, 10), 10, None, None, True).head
    assert known_pretraining(model, 10, None, loaded, False) is None
    assert known_pretraining(MLP(64, 10), 10, None, None, None) is None  # nothing says so: the loss decides


def test_a_loss_clearly_below_the_prior_is_what_a_random_head_cannot_reach():
    assert from_the_loss(0.26, 2.30, se=0.02, z=3, gain=0.1)
    assert not from_the_loss(2.25, 2.30, se=0.02, z=3, gain=0.1)  # a random head on predictive features


def test_a_model_with_nothing_trainable_is_refused_naming_the_fix():
    model = MLP(64, 10, hidden=8).requires_grad_(False)
    with pytest.raises(InputError, match="every one of the model's 6 parameter tensors is frozen"):
        refuse_nothing_trainable(model)
    model.head.requires_grad_(True)
    refuse_nothing_trainable(model)  # a linear probe on a frozen body: fine


def test_a_from_pretrained_model_with_an_untied_head_is_a_pretrained_body_unless_its_loss_says_more(tmp_path):
    """A sequence classifier from from_pretrained may carry a head new for this task (transformers builds one
    when num_labels differs): without a tied head, the loss at init decides whether the head is pretrained."""
    from types import SimpleNamespace

    from saneloop.models.pretraining import hf_body, hf_origin

    model = MLP(64, 10, hidden=8)
    model.config = SimpleNamespace(_name_or_path=str(tmp_path))
    assert hf_origin(model) == str(tmp_path) and known_pretraining(model, 10, None, None, None) is None
    body = hf_body(model)
    assert body is not None and not body.head and f"from_pretrained({str(tmp_path)!r})" in body.source
    model.config = SimpleNamespace(_name_or_path="")  # built from a config: nothing loaded
    assert hf_body(model) is None
