from types import SimpleNamespace

import pytest
import torch
from torch.nn import functional as F

from saneloop.checks.capacity import CapacitySettings as Settings
from saneloop.checks.capacity import judge as wider_no_worse
from saneloop.models import MLP
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
            started.append({n: v.clone() for n, v in larger().state_dict().items()}) or compare(model, larger, *a, **k)
        ),
    )
    ctx, built, settings = _pretrained_stage_args(wider={"model.trainable": "all"})
    verdict = capacity._capacity(ctx, built, settings)
    assert verdict.status == "passed" and "model.trainable=all" in verdict.message, verdict.message
    assert all(torch.equal(started[0][name], value) for name, value in built.model.state_dict().items())


# Issue 21: the comparison within a bounded share of memory and time (a narrower model for a large one, in turns)


def test_unit_the_narrower_model_inverts_the_widening():
    from saneloop.checks.capacity import inverted, not_widening

    assert inverted({"model.hidden": 512}, {"model.hidden": 256}) == {"model.hidden": 128}
    assert inverted({"model.n_embd": 384, "model.scale": 2.0}, {"model.n_embd": 256, "model.scale": 1.0}) == {
        "model.n_embd": 171,  # 256 * 256 / 384 = 170.7, an integer as the model's is
        "model.scale": 0.5,
    }
    for wider, current in (({"model.trainable": "all"}, {"model.trainable": "head"}), ({"m.h": 9}, {"m.h": 1})):
        with pytest.raises(ValueError, match=next(iter(wider))):
            inverted(wider, current)
    assert not_widening({"model.hidden": 4, "model.depth": 3}, {"model.hidden": 256, "model.depth": 2}) == {
        "model.hidden": (256, 4)
    }


class FanInIgnored(MLP):
    """Weights drawn N(0, 1) whatever the fan-in: the wider, the larger its outputs and its loss."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        with torch.no_grad():
            for layer in self.modules():
                if isinstance(layer, torch.nn.Linear):
                    layer.weight.normal_(0, 1)


def _merged(cfg, overrides):
    from omegaconf import OmegaConf

    return OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{k}={v}" for k, v in overrides.items()]))


def _scratch_stage_args(hidden=128, wider=256, net=MLP, **settings):
    """What the capacity stage reads, for an MLP from scratch `hidden` wide with `gates.capacity.wider` at `wider`."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.create({"model": {"hidden": hidden}})
    builders = lambda cfg: SimpleNamespace(
        cfg=cfg,
        model=lambda: net(64, 10, hidden=cfg.model.hidden),
        has=lambda key: OmegaConf.select(cfg, key) is not None,
        widened=lambda over: builders(
            OmegaConf.merge(cfg, OmegaConf.from_dotlist([f"{k}={v}" for k, v in over.items()]))
        ),
        optimizer=lambda params: torch.optim.AdamW(params, lr=1e-3),
    )
    ctx, built, _ = _pretrained_stage_args()
    ctx.builders = builders(cfg)
    torch.manual_seed(0)
    built.model, built.pretraining = net(64, 10, hidden=hidden), None
    defaults = {"wider": {"model.hidden": wider}, "steps": 40, "max_steps": 40}
    return ctx, built, Settings(**{**defaults, **settings})


@pytest.mark.parametrize("direction", ["wider", "narrower"])
def test_a_clean_model_passes_and_an_init_that_ignores_fan_in_halts_either_way(direction):
    """The same pair, 64 and 128 wide, either way: the run's model 64 wide against one 128 wide (wider), or the
    run's 128 wide against 128 * 128 / 256 = 64 wide (narrower: the run's model is the larger of the pair)."""
    from saneloop.stages.capacity import _capacity

    hidden, wider = (64, 128) if direction == "wider" else (128, 256)
    clean = _capacity(*_scratch_stage_args(hidden, wider, direction=direction))
    assert clean.status == "passed" and clean.details["direction"] == direction, clean.message
    planted = _capacity(*_scratch_stage_args(hidden, wider, net=FanInIgnored, direction=direction))
    assert planted.status == "failed" and planted.details["direction"] == direction, planted.message
    named = "a narrower model (model.hidden=64" if direction == "narrower" else "the wider model (model.hidden=128)"
    assert named in planted.message


def test_auto_compares_a_model_above_narrow_above_with_a_narrower_one_saying_why():
    from saneloop.stages.capacity import _capacity

    small = _capacity(*_scratch_stage_args(direction="auto"))  # 26 k parameters: the wider comparison as before
    assert small.details["direction"] == "wider" and "the wider model (model.hidden=256)" in small.message
    large = _capacity(*_scratch_stage_args(direction="auto", narrow_above=10_000))
    assert large.details["direction"] == "narrower", large.message
    assert "trainable parameters, above gates.capacity.narrow_above=10,000" in large.message


def test_narrower_refuses_overrides_it_cannot_invert_and_halts_ones_that_do_not_widen():
    from saneloop.stages.capacity import _capacity

    ctx, built, settings = _scratch_stage_args(direction="narrower", wider=4)
    halted = _capacity(ctx, built, settings)
    assert halted.status == "failed" and "not wider: model.hidden=4 (the model's 128)" in halted.message
    ctx.builders.cfg.model.trainable = "head"
    settings.wider = {"model.trainable": "all"}
    refused = _capacity(ctx, built, settings)
    assert refused.status == "skipped" and "no narrower model to compare with: model.trainable" in refused.message
    assert "gates.capacity.direction=wider" in refused.message


def test_the_bench_plant_halts_with_the_narrower_comparison_too(tmp_path):
    """cls_wider_model_narrower ('wider' set to 4 hidden units) with direction=narrower: no narrower model follows
    from a width below the model's, and the gate says so, before training either."""
    code, report = run_pipeline(
        tmp_path,
        "gates.capacity.wider={model.hidden:4}",
        "gates.capacity.direction=narrower",
        *FAST,
        stop_after("capacity"),
    )
    found = assert_halted_at(code, report, "capacity", "capacity")
    assert (
        "model.hidden=4 (the model's 256)" in found["message"]
        and "gates.capacity.direction=narrower" in found["message"]
    )


def _digit_batches():
    torch.manual_seed(0)
    x, y = torch.rand(64, 64), torch.randint(0, 10, (64,))
    return [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]


def test_the_two_models_train_in_turns_one_resident_at_a_time():
    """While the larger model trains, the smaller one's parameters (and optimizer state) are parked out of memory;
    the losses are those of lockstep training on the same batches."""
    from saneloop.checks.capacity import wider_no_worse as in_turns

    small, large = MLP(64, 10, hidden=32), MLP(64, 10, hidden=64)
    resident = []
    loss = lambda logits, y: resident.append(sum(p.numel() for p in small.parameters())) or F.cross_entropy(logits, y)
    settings = Settings(steps=8, max_steps=8)
    verdict = in_turns(lambda: small, lambda: large, _digit_batches(), loss, settings=settings)
    assert resident[:8] == [32 * 64 + 32 + 32 * 32 + 32 + 10 * 32 + 10] * 8 and resident[8:] == [0] * 8
    assert len(verdict.details["wider"]) == 2  # the window of 8 steps' losses, both models having trained


def test_the_larger_model_clearly_ahead_passes_before_steps():
    from saneloop.checks.capacity import wider_no_worse as in_turns

    verdict = in_turns(MLP(64, 10, hidden=8), MLP(64, 10, hidden=128), _digit_batches(), F.cross_entropy)
    assert verdict.passed and "decided at step 50 of 100, ahead by more than the noise" in verdict.message


def test_out_of_its_time_budget_the_check_is_inconclusive_saying_what_it_would_need():
    from saneloop.checks.capacity import wider_no_worse as in_turns
    from saneloop.checks.measure import budget

    with budget.allowed(budget.Allowance(seconds=0.01, step_s=0.001)):
        verdict = in_turns(MLP(64, 10, hidden=32), MLP(64, 10, hidden=64), _digit_batches(), F.cross_entropy)
    assert verdict.status == "passed" and verdict.details["inconclusive"] == "budget"
    assert verdict.message.startswith("inconclusive: out of budget: ")
    assert "It would need at least" in verdict.message and sum(verdict.details["needed_steps"]) > 0


def test_parked_and_resumed_each_model_trains_as_if_straight_through():
    """A larger model behind at 8 steps: both train on to 16, each resumed from its file (weights and Adam state);
    their losses are those of 16 uninterrupted steps on the same batches."""
    from saneloop.checks.capacity import wider_no_worse as in_turns
    from saneloop.checks.measure.fitting import train_steps

    torch.manual_seed(0)
    small, narrow = MLP(64, 10, hidden=32), MLP(64, 10, hidden=2)  # 'wider' 2 wide: behind, so both train on
    verdict = in_turns(
        small, narrow, _digit_batches(), F.cross_entropy, settings=Settings(steps=8, max_steps=16, z=0.0, rtol=0.0)
    )
    assert not verdict.passed and "of 16 steps" in verdict.message
    straight = [
        train_steps(m, torch.optim.AdamW(m.parameters(), lr=1e-3), F.cross_entropy, _digit_batches(), 16)
        for m in (small, narrow)
    ]
    assert verdict.details["base"] == pytest.approx(straight[0][-4:]) and verdict.details["wider"] == pytest.approx(
        straight[1][-4:]
    )
