from saneloop.checks.capacity import CapacitySettings as Settings
from saneloop.checks.capacity import judge as wider_no_worse
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after


def test_unit_paired_difference_within_noise_passes():
    base = [1.0, 0.9, 1.1, 0.8, 1.0, 0.9, 1.1, 0.8]
    assert wider_no_worse(base, [b - 0.1 for b in base], "w", Settings(window=0.5)).passed
    assert wider_no_worse(
        base, [b + (0.01 if k % 2 else -0.01) for k, b in enumerate(base)], "w", Settings(window=0.5)
    ).passed
    assert not wider_no_worse(base, [b + 0.4 for b in base], "w", Settings(window=0.5)).passed
    # 20% worse: within the relative allowance (two correlated 100-step curves end that far apart),
    # outside it when the allowance is off
    assert wider_no_worse(base, [b + 0.2 for b in base], "w", Settings(window=0.5)).passed
    assert not wider_no_worse(base, [b + 0.2 for b in base], "w", Settings(window=0.5, rtol=0.0)).passed


def test_narrower_model_halts_at_capacity(tmp_path):
    """'Wider' set to 4 hidden units: a model that fits worse must be caught."""
    code, report = run_pipeline(tmp_path, "gates.capacity.wider={model.hidden:4}", *FAST, stop_after("capacity"))
    found = assert_halted_at(code, report, "capacity", "capacity")
    assert found["value"] > 0 and "model.hidden=4" in found["message"]


def test_clean_run_passes(default_run):
    found = gate(default_run[1], "capacity")
    assert found["status"] == "passed" and "model.hidden=512" in found["message"]


def _pretrained_stage_args(unfreeze=(), wider=None):
    """What the capacity stage reads, for a pretrained MLP whose body is frozen (a linear probe); `wider`
    builds the larger model from `gates.capacity.wider` (default: twice the hidden width)."""
    from types import SimpleNamespace

    import torch
    from torch.nn import functional as F

    from saneloop.models import MLP
    from saneloop.models.forward import DEFAULT_OUTPUTS
    from saneloop.models.pretraining import Pretraining

    torch.manual_seed(0)
    model = MLP(64, 10, hidden=16)
    model.body.requires_grad_(False)
    x, y = torch.rand(64, 64), torch.randint(0, 10, (64,))
    widened = lambda over: SimpleNamespace(model=lambda: MLP(64, 10, hidden=over.get("model.hidden", 16)))
    ctx = SimpleNamespace(
        seed=0,
        settings=SimpleNamespace(deterministic=True, model_head=None),
        builders=SimpleNamespace(
            optimizer=lambda params: torch.optim.SGD(params, lr=0.1), has=lambda key: True, widened=widened
        ),
        device=None,
        outputs=DEFAULT_OUTPUTS,
    )
    built = SimpleNamespace(
        model=model,
        pretraining=Pretraining("declared: model_pretrained=true", head=True),
        loaders=SimpleNamespace(probe=lambda: [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]),
        task=SimpleNamespace(loss=F.cross_entropy, head_size=lambda: 10, init_bias=lambda bias, targets: ""),
        train_summary=SimpleNamespace(targets=y),
        loaded=None,
    )
    settings = Settings(unfreeze=list(unfreeze), wider=wider or {"model.hidden": 512}, steps=8, max_steps=8)
    return ctx, built, settings


def test_a_pretrained_model_skips_a_wider_model_saying_why():
    from saneloop.stages.capacity import _capacity

    verdict = _capacity(*_pretrained_stage_args())
    assert verdict.status == "skipped" and "would start from random init, not from its pretraining" in verdict.message
    assert "gates.capacity.unfreeze=" in verdict.message


def test_a_pretrained_model_is_compared_with_more_of_it_unfrozen():
    from saneloop.stages.capacity import _capacity

    verdict = _capacity(*_pretrained_stage_args(unfreeze=["body.3.*"]))
    assert verdict.status == "passed", verdict.message
    assert "2 more parameter tensors unfrozen: body.3.weight, body.3.bias" in verdict.message
    none = _capacity(*_pretrained_stage_args(unfreeze=["nowhere.*"]))
    assert none.status == "skipped" and "no frozen parameter matches" in none.message


def test_a_pretrained_model_is_compared_with_the_same_weights_in_a_model_with_more_of_them_trainable(monkeypatch):
    """`wider` that keeps every shape (the example's `model.trainable`, here an MLP built unfrozen): the larger
    model starts from the pretrained weights, not from the seed."""
    import torch

    from saneloop.stages import capacity

    started = []
    compare = capacity.wider_no_worse
    monkeypatch.setattr(
        capacity,
        "wider_no_worse",
        lambda model, larger, *a, **k: (
            started.append({n: v.clone() for n, v in larger.state_dict().items()}) or compare(model, larger, *a, **k)
        ),
    )
    ctx, built, settings = _pretrained_stage_args(wider={"model.trainable": "all"})
    verdict = capacity._capacity(ctx, built, settings)
    assert verdict.status == "passed" and "model.trainable=all" in verdict.message, verdict.message
    assert all(torch.equal(started[0][name], value) for name, value in built.model.state_dict().items())
