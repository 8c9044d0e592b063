"""init_from (saneloop/models/pretrained.py): pretrained weights load into the model, or are refused by name.

Each case is one a fine-tuning user meets: a saneloop run's own weights, a state dict saved from a wrapped
model (`module.`), a renamed head, another architecture, a new head declared on purpose, a path that is
not there, and a Hugging Face `save_pretrained` folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from torch import nn

from saneloop.errors import InputError
from saneloop.models import MLP
from saneloop.models.pretrained import load_pretrained


def _mlp(seed: int, classes: int = 10, hidden: int = 32) -> MLP:
    torch.manual_seed(seed)
    return MLP(64, classes, hidden=hidden)


def _same(a: nn.Module, b: nn.Module, keys=None) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in (keys or sa))


def test_a_saneloop_run_dirs_weights_load_whole(tmp_path):
    """model.safetensors, as evaluate's _save_weights writes it (accelerator.save_model)."""
    trained, run_dir = _mlp(1), tmp_path / "run"
    Accelerator(cpu=True).save_model(trained, run_dir, safe_serialization=True)
    model = _mlp(0)
    loaded = load_pretrained(model, str(run_dir))
    assert set(loaded.loaded) == set(model.state_dict()) and loaded.share == 1.0
    assert loaded.missing == loaded.unexpected == loaded.new == ()
    assert _same(model, trained)
    assert "model.safetensors" in loaded.source


def test_a_wrapped_models_state_dict_loads_after_stripping_its_prefix(tmp_path):
    trained = _mlp(1)
    path = tmp_path / "ddp.pt"
    torch.save({f"module._orig_mod.{k}": v for k, v in trained.state_dict().items()}, path)
    model = _mlp(0)
    loaded = load_pretrained(model, str(path))
    assert _same(model, trained) and loaded.missing == loaded.unexpected == ()
    assert loaded.stripped == ("module.", "_orig_mod.")
    assert "prefix 'module.', '_orig_mod.' stripped" in loaded.summary()


def test_a_renamed_head_is_refused_naming_the_keys_and_the_model_is_untouched(tmp_path):
    state = {k.replace("head.", "classifier."): v for k, v in _mlp(1).state_dict().items()}
    torch.save(state, tmp_path / "renamed.pth")
    model, before = _mlp(0), _mlp(0)
    with pytest.raises(InputError) as err:
        load_pretrained(model, str(tmp_path / "renamed.pth"))
    message = str(err.value)
    assert "classifier.weight -> head.weight" in message and "Missing: head.weight, head.bias" in message
    assert "a layer renamed" in message and "init_from.new=[head.*]" in message
    assert _same(model, before)  # refused before anything was copied


def test_another_architecture_is_refused_naming_the_shapes(tmp_path):
    torch.save(_mlp(1, hidden=48).state_dict(), tmp_path / "wider.pt")
    with pytest.raises(InputError, match=r"shapes disagree.*body\.1\.weight \(48, 64\) vs \(32, 64\)"):
        load_pretrained(_mlp(0), str(tmp_path / "wider.pt"))


def test_a_checkpoint_that_shares_no_keys_is_refused_as_another_architecture(tmp_path):
    torch.save(nn.Sequential(nn.Linear(3, 5), nn.Linear(5, 2)).state_dict(), tmp_path / "other.pt")
    with pytest.raises(InputError) as err:
        load_pretrained(_mlp(0), str(tmp_path / "other.pt"))
    assert "only 0.0% of the model's parameters" in str(err.value)
    assert "another architecture" in str(err.value) and "unexpected: 0.weight" in str(err.value)


def test_a_prefix_the_model_lacks_is_named_as_the_cause(tmp_path):
    """Saved from a user's wrapper (`self.net = MLP(...)`): every key carries `net.`."""
    torch.save({f"net.{k}": v for k, v in _mlp(1).state_dict().items()}, tmp_path / "wrapped.pt")
    with pytest.raises(InputError, match="the checkpoint's keys carry the prefix 'net.'") as err:
        load_pretrained(_mlp(0), str(tmp_path / "wrapped.pt"))
    assert "shape of an unused checkpoint key" not in str(err.value)  # a prefix, not a rename


def test_a_declared_new_head_is_expected_missing_and_keeps_its_init(tmp_path):
    """A 10-class model's body under a fresh 3-class head (a new task): the old head is not loaded."""
    body = _mlp(1)
    torch.save(body.state_dict(), tmp_path / "body.pt")
    model, seeded = _mlp(0, classes=3), _mlp(0, classes=3)
    loaded = load_pretrained(model, str(tmp_path / "body.pt"), new=["head.*"])
    assert loaded.new == ("head.weight", "head.bias") and loaded.missing == () and loaded.share == 1.0
    assert _same(model, body, [k for k in body.state_dict() if k.startswith("body.")])
    assert _same(model, seeded, ["head.weight", "head.bias"])
    with pytest.raises(InputError, match="head.weight"):  # undeclared, the 10-class head's shapes disagree
        load_pretrained(_mlp(0, classes=3), str(tmp_path / "body.pt"))


def test_a_small_missing_part_is_reported_not_refused(tmp_path):
    """A model with one more small layer than its checkpoint: the rest loads, the extra layer is named."""
    trained = _mlp(1)
    torch.save(trained.state_dict(), tmp_path / "w.pt")
    model = _mlp(0)
    model.scale = nn.Linear(1, 1)
    loaded = load_pretrained(model, str(tmp_path / "w.pt"))
    assert loaded.missing == ("scale.weight", "scale.bias") and loaded.share > 0.99
    assert "2 missing, left at init: scale.weight, scale.bias" in loaded.summary()


def test_a_path_that_is_not_there_is_refused_naming_the_key(tmp_path):
    with pytest.raises(InputError, match=r"init_from.path=.*nowhere does not exist.*nothing is downloaded"):
        load_pretrained(_mlp(0), str(tmp_path / "nowhere"))
    with pytest.raises(InputError, match="holds no weights"):
        load_pretrained(_mlp(0), str(tmp_path))


def test_a_training_checkpoint_with_the_weights_one_level_down_loads(tmp_path):
    trained = _mlp(1)
    torch.save({"model": trained.state_dict(), "step": torch.tensor(3)}, tmp_path / "step.pt")
    model = _mlp(0)
    load_pretrained(model, str(tmp_path / "step.pt"))
    assert _same(model, trained)


def _gpt2(seed: int) -> nn.Module:
    from saneloop.models.hf import from_config

    torch.manual_seed(seed)
    return from_config("GPT2LMHeadModel", vocab_size=66, n_positions=64, n_embd=32, n_layer=2, n_head=4)


def test_a_save_pretrained_gpt2_loads_every_key_offline(tmp_path):
    """The hf example's model (saneloop.models.hf.from_config), through GPT2LMHeadModel.from_pretrained:
    its lm_head, tied to the token embedding and absent from the file, counts as loaded."""
    pytest.importorskip("transformers")
    pretrained = _gpt2(1)
    pretrained.save_pretrained(tmp_path / "gpt2")
    model = _gpt2(0)
    loaded = load_pretrained(model, str(tmp_path / "gpt2"))
    assert set(loaded.loaded) == set(model.state_dict()) and loaded.missing == loaded.unexpected == ()
    assert "from_pretrained, offline" in loaded.source
    assert _same(model, pretrained)


def test_a_save_pretrained_folder_loads_into_a_plain_module_from_its_weights_file(tmp_path):
    """A model that is not a transformers model reads the folder's model.safetensors directly."""
    pytest.importorskip("transformers")
    _gpt2(1).save_pretrained(tmp_path / "gpt2")
    assert (tmp_path / "gpt2" / "model.safetensors").exists()
    with pytest.raises(InputError, match="only 0.0%"):
        load_pretrained(_mlp(0), str(Path(tmp_path / "gpt2")))


def test_a_gpt2_run_dirs_weights_load_with_the_tied_head(tmp_path):
    """A saneloop run of the hf example saves model.safetensors without the tied lm_head.weight (one copy of
    each shared tensor): the head is the token embedding, so it counts as loaded, not missing."""
    pytest.importorskip("transformers")
    pretrained, run_dir = _gpt2(1), tmp_path / "run"
    Accelerator(cpu=True).save_model(pretrained, run_dir, safe_serialization=True)
    model = _gpt2(0)
    loaded = load_pretrained(model, str(run_dir))
    assert "lm_head.weight" in loaded.loaded and loaded.missing == loaded.unexpected == ()
    assert _same(model, pretrained) and model.lm_head.weight is model.transformer.wte.weight
