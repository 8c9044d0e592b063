"""LoRA adapters (`+peft=lora`): put on the model after init_from loads it, judged by every gate, saved merged
(the bare model's keys, what init_from reads), and reloaded with their trained values on resume."""

from __future__ import annotations

import shutil

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from bench.plants.pretrained import fit_on_digits
from saneloop.checks.params_learn import every_param_learns
from saneloop.engine import checkpoint
from saneloop.errors import EXIT_INPUT_ERROR, EXIT_PASSED, InputError
from saneloop.models import MLP
from saneloop.models.adapters import add_lora, is_adapted, merged, with_rank
from tests.conftest import gate, run_pipeline

pytest.importorskip("peft")

QUIET = ["output.progress=false", "output.figures=false"]
# A pretrained body and head for the classify recipe's data (hidden 32: quick), LoRA on its Linear layers.
LORA = ["+peft=lora", "peft.r=4", "model.hidden=32", "++gates.capacity.wider={peft.r: 8}"]


def _pretrained(path, hidden: int = 32, items: int = 400, steps: int = 150):
    """The recipe's MLP trained in a plain loop on the first training digits, saved as a state dict: a
    pretrained model, whose loss at init is clearly below the prior's (random weights would halt init_loss)."""
    torch.manual_seed(123)
    model = fit_on_digits(MLP(64, 10, hidden=hidden), items, steps)
    torch.save(model.state_dict(), path)
    return path


def _lora_mlp(r: int = 4, **kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    return add_lora(MLP(64, 10, hidden=16), r=r, alpha=2 * r, **kwargs)


def test_adapters_train_and_the_base_is_frozen():
    model = _lora_mlp()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable), trainable
    assert is_adapted(model) and not is_adapted(MLP(64, 10))


def test_a_new_head_in_modules_to_save_trains_in_full():
    model = _lora_mlp(target_modules=["body.1"], modules_to_save=["head"])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any(n.endswith("head.modules_to_save.default.weight") for n in trainable), trainable


def test_a_target_module_the_model_lacks_is_refused_naming_what_it_has():
    with pytest.raises(InputError, match=r"peft.target_modules: the model has no module 'q_proj'; adaptable modules: "):
        _lora_mlp(target_modules=["q_proj"])


def test_params_learn_passes_a_fresh_lora_model_whose_B_starts_at_zero():
    """LoRA's B starts at zero, so A gets no gradient at init: one small step later it does. Before: a halt."""
    model = _lora_mlp()
    x, y = torch.randn(8, 64), torch.randint(0, 10, (8,))
    verdict = every_param_learns(model, F.cross_entropy, x, y)
    assert verdict.passed, verdict.message


def test_params_learn_still_halts_a_detached_adapter():
    model = _lora_mlp()
    dead = model.base_model.model.body[1].lora_A["default"]
    dead.register_forward_hook(lambda module, inputs, output: output.detach())
    verdict = every_param_learns(model, F.cross_entropy, torch.randn(8, 64), torch.randint(0, 10, (8,)))
    assert not verdict.passed and "body.1.lora_A.default.weight" in verdict.message


def test_merged_has_the_bare_models_keys_and_outputs():
    model = _lora_mlp()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()  # trained adapters: merging changes the base weights
    x = torch.randn(4, 64)
    bare = merged(model)
    assert set(bare.state_dict()) == set(MLP(64, 10, hidden=16).state_dict())
    assert torch.allclose(bare(x), model(x), atol=1e-5)
    assert is_adapted(model), "merging works on a copy: the run's model keeps its adapters"


class TiedLM(torch.nn.Module):
    """A language model whose output layer shares the embedding's weight (as GPT-2's lm_head and wte do)."""

    def __init__(self, vocab: int = 11, dim: int = 8) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, dim)
        self.mix = torch.nn.Linear(dim, dim)
        self.head = torch.nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.mix(self.embed(ids))))


def _trained(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.normal_(std=0.3)  # trained: updates not zero (peft starts B, or an embedding's A, at 0)
    return model.eval()


@pytest.mark.parametrize("targets", [["embed", "mix", "head"], ["head"], ["embed"]])
def test_merging_adapters_on_a_tied_weight_computes_what_the_adapted_model_did(targets):
    """Merged into one shared tensor, each module's update would reach the other module too (the LoRA example's
    lm_head and wte); the merged model unties them and computes what the adapted model did."""
    torch.manual_seed(0)
    model = _trained(add_lora(TiedLM(), r=4, alpha=8, target_modules=targets))
    ids = torch.randint(0, 11, (4, 7))
    bare = merged(model)
    assert set(bare.state_dict()) == set(TiedLM().state_dict())
    assert torch.allclose(bare(ids), model(ids), atol=1e-5), (bare(ids) - model(ids)).abs().max()
    inner = model.base_model.model
    assert _weight(inner.head) is _weight(inner.embed), "the run's model keeps its tie"


def _weight(module: torch.nn.Module) -> torch.nn.Parameter:
    return getattr(module, "base_layer", module).weight


def test_with_rank_doubles_the_rank_on_the_same_base():
    model = _lora_mlp(r=4)
    wider = with_rank(model, 8)
    assert wider.peft_config["default"].r == 8 and wider.peft_config["default"].lora_alpha == 16
    base = {k: v for k, v in model.state_dict().items() if "base_layer" in k}
    assert all(torch.equal(wider.state_dict()[k], v) for k, v in base.items())
    assert model.peft_config["default"].r == 4


def test_a_bad_rank_is_refused_by_its_key(tmp_path):
    code, report = run_pipeline(tmp_path, *QUIET, "+peft=lora", "peft.r=0", "stop_after=setup")
    assert code == EXIT_INPUT_ERROR and "peft.r=0 must be >= 1" in report["error"], report.get("error")


def test_lora_on_a_pretrained_model_passes_setup_and_sanity(tmp_path):
    weights = _pretrained(tmp_path / "pretrained.pt")
    run = tmp_path / "run"
    code, report = run_pipeline(run, *QUIET, *LORA, f"init_from.path={weights}", "stop_after=sanity")
    assert code == EXIT_PASSED, report
    notes = report["notes"]
    assert any(n.startswith("init_from") and "6 keys loaded (100.0%" in n for n in notes), notes
    assert any(n.startswith("peft: LoRA r=4, alpha=16 on 3 modules") for n in notes), notes
    for name in ("determinism", "init_loss", "params_learn", "batch_independence"):
        assert gate(report, name)["status"] == "passed", gate(report, name)


@pytest.mark.slow
def test_a_lora_run_saves_the_merged_model_and_resumes_with_its_adapters(tmp_path):
    """Uninterrupted: the merged weights (bare keys) load as init_from. Resumed from its step-10 checkpoint:
    the adapters reload (not re-initialised) and the final weights are the uninterrupted run's, bit for bit."""
    weights = _pretrained(tmp_path / "pretrained.pt")
    steps = [*QUIET, *LORA, f"init_from.path={weights}", "train.max_steps=20", "checkpoint.every=10", "optim.lr=1e-2"]
    code, report = run_pipeline(tmp_path / "whole", *steps)
    assert code == EXIT_PASSED, report
    saved = load_file(tmp_path / "whole" / "model.safetensors")
    assert set(saved) == set(MLP(64, 10, hidden=32).state_dict()), sorted(saved)

    resumed = tmp_path / "resumed"
    shutil.copytree(tmp_path / "whole", resumed)
    checkpoint.path_for(resumed, 20).unlink()
    (resumed / "model.safetensors").unlink()
    code, report = run_pipeline(resumed, *steps, f"resume={resumed}")
    assert code == EXIT_PASSED, report
    assert report["checkpoint"]["resumed_from"]["step"] == 10
    again = load_file(resumed / "model.safetensors")
    assert all(torch.equal(again[k], v) for k, v in saved.items())

    code, report = run_pipeline(
        tmp_path / "next", *QUIET, "model.hidden=32", f"init_from.path={tmp_path / 'whole'}", "stop_after=setup"
    )
    assert code == EXIT_PASSED and any("6 keys loaded (100.0%" in n for n in report["notes"]), report
