"""Every check in `saneloop.checks`, called as a user calls it in a pytest test of their own: on a small
model and data built here, without Hydra, a run dir or any stage code."""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import saneloop.checks as checks
from saneloop.data.batch import Batch
from saneloop.data.sample import SplitSample
from saneloop.tasks import CharLM, Classify

torch.manual_seed(0)
X = torch.randn(256, 6)
Y = (X[:, 0] + X[:, 1] > 0).long()  # a rule a small MLP learns in a few dozen steps
R = X[:, 0] + X[:, 1] + torch.randn(256)  # a regression target: two columns and as much noise
TRAIN = DataLoader(TensorDataset(X[:192], Y[:192]), batch_size=32, shuffle=True, generator=torch.Generator())
TEST = DataLoader(TensorDataset(X[192:], Y[192:]), batch_size=64)


class Net(nn.Module):
    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2)
        with torch.no_grad():
            self.head.weight.mul_(0.1)

    def forward(self, x):
        return self.head(self.body(x))

    def reference_forward(self, x):  # the loop the vectorized forward stands for (tip 13)
        return torch.stack([self.head(torch.relu(self.body[0].weight @ row + self.body[0].bias)) for row in x])


class TinyLM(nn.Module):
    """Embedding, a causal running mean over positions, a head: output t sees inputs <= t only."""

    def __init__(self, vocab: int = 5) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab, 8), nn.Linear(8, vocab)

    def forward(self, tokens):
        h = self.embed(tokens).cumsum(1) / torch.arange(1, tokens.shape[1] + 1).view(1, -1, 1)
        return self.head(h)


class MaskedPool(nn.Module):
    """Embedding, a mean over the real positions of each sequence, a head; returns a dict with its loss."""

    def __init__(self, vocab: int = 5) -> None:
        super().__init__()
        self.embed, self.head = nn.Embedding(vocab, 8), nn.Linear(8, 2)

    def forward(self, input_ids, attention_mask, labels=None):
        m = attention_mask.unsqueeze(-1).float()
        logits = self.head((self.embed(input_ids) * m).sum(1) / m.sum(1))
        return {"logits": logits, "loss": None if labels is None else F.cross_entropy(logits, labels)}


def padded(lengths=(3, 7, 5, 1)) -> dict:
    """A batch as a padding collator makes it: ids padded with 0, the mask, one label per sequence."""
    mask = (torch.arange(max(lengths))[None] < torch.tensor(lengths)[:, None]).long()
    ids = torch.randint(1, 5, mask.shape, generator=torch.Generator().manual_seed(0)) * mask
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.tensor([0, 1, 1, 0])}


def _fit_and_record(seed: int) -> list[float]:
    """A user's own short training run, seeded from scratch."""
    torch.manual_seed(seed)
    model, losses = Net(), []
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for x, y in TEST:
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def _adamw_1e2(params):
    return torch.optim.AdamW(params, lr=1e-2)


def _uses():
    """Each check, called on this file's own model and data."""
    task, net = Classify(2), Net()
    task.init_bias(net.head.bias, Y[:192])
    tokens = torch.randint(0, 5, (4, 7))
    return {
        "targets_valid": lambda: checks.targets_valid(task, {"train": Y[:192], "test": Y[192:]}),
        "all_classes_present": lambda: checks.all_classes_present(task, Y[:192]),
        "all_finite": lambda: checks.all_finite({"train": TRAIN.dataset, "test": TEST.dataset}),
        "items_repeat": lambda: checks.items_repeat({"train": TRAIN.dataset}),
        "reproducible": lambda: checks.reproducible(lambda: _fit_and_record(seed=3)),
        "identical_losses": lambda: checks.identical_losses(_fit_and_record(1), _fit_and_record(1)),
        "bias_reaches_output": lambda: checks.bias_reaches_output(net, task, TRAIN, Y[:192]),
        "loss_at_init": lambda: checks.loss_at_init(net, task, TRAIN),
        "every_param_learns": lambda: checks.every_param_learns(net, F.cross_entropy, X[:16], Y[:16]),
        "last_batch_trains": lambda: checks.last_batch_trains(net, F.cross_entropy, X[:16], 193, 16, targets=Y[:16]),
        "independent_samples": lambda: checks.independent_samples(net, X[:8]),
        "inputs_reach_output": lambda: checks.inputs_reach_output(net, X[:16]),
        "causal_dependencies": lambda: checks.causal_dependencies(TinyLM(), tokens),
        "matches_reference": lambda: checks.matches_reference(net, net.reference_forward, X[:4]),
        "model_matches_reference": lambda: checks.model_matches_reference(net, X[:4]),
        "learns_from_inputs": lambda: checks.learns_from_inputs(net, TRAIN, TEST, F.cross_entropy),
        "overfit_batch": lambda: checks.overfit_batch(net, F.cross_entropy, X[:8], Y[:8], _adamw_1e2),
        "wider_no_worse": lambda: checks.wider_no_worse(Net(16), Net(64), TRAIN, F.cross_entropy),
        "loss_decreased": lambda: checks.loss_decreased(torch.tensor([1.0 - 0.009 * k for k in range(100)])),
        "every_example_once": lambda: checks.every_example_once(torch.arange(64).flip(0), 64),
        "evaluates_repeatably": lambda: checks.evaluates_repeatably(net, TEST, task.metrics),
        "padding_labels_ignored": lambda: checks.padding_labels_ignored(
            CharLM(5),
            [{**padded(), "labels": padded()["input_ids"].masked_fill(padded()["attention_mask"] == 0, -100)}],
        ),
        "losses_agree": lambda: checks.losses_agree(MaskedPool(), task.loss, [padded()]),
        "padding_ignored": lambda: checks.padding_ignored(
            MaskedPool(), {k: v for k, v in padded().items() if k != "labels"}
        ),
        "above_baselines": lambda: checks.above_baselines("auroc", 0.95, {"chance_auroc": 0.5}, se=0.02),
        # the second wave (issue 14)
        "overlapping_items": lambda: checks.overlapping_items(*_splits(), checks.SplitOverlapSettings()),
        "shifted_features": lambda: checks.shifted_features(*_splits(), checks.SplitShiftSettings()),
        "leaking_features": lambda: checks.leaking_features(*_splits(), checks.TargetLeakSettings()),
        "switches_both_ways": lambda: checks.switches_both_ways(net, X[:8]),
        "accumulation_matches": lambda: checks.accumulation_matches(
            net, F.cross_entropy, Batch((X[:32],), {}, Y[:32]), 2
        ),
        "too_good_too_fast": lambda: checks.too_good_too_fast(0.3, 0.69, 0.69, 100, checks.TooGoodSettings()),
        "likely_mislabelled": lambda: checks.likely_mislabelled(
            F.one_hot(Y[:8], 2).float() * 0.8 + 0.1, Y[:8], torch.arange(8)
        ),
        # issue 22 and issue 20
        "targets_in_range": lambda: checks.targets_in_range({"train": R[:192], "test": R[192:]}),
        "hidden_leaks": lambda: checks.hidden_leaks(*_splits(R), checks.HiddenLeakSettings()),
        "ceiling_search": lambda: checks.ceiling_search("accuracy", 1.0, _splits(), checks.CeilingExplainedSettings()),
        "copies_inflate": lambda: checks.copies_inflate(
            task,
            net(X[192:]).detach(),
            Y[192:],
            torch.arange(64),
            list(range(0, 64, 4)),
            checks.ContaminationSettings(),
        ),
        "loss_scale_held": lambda: checks.loss_scale_held(2.0**10, 0, skipped=3, steps=100),
        "lr_keeps_pretraining": lambda: checks.lr_keeps_pretraining(net, task, TRAIN, TEST, _adamw_1e2),
    }


def _splits(y: torch.Tensor = Y):
    """This file's data as the data gates read a split: one flattened row per item, with its target."""
    make = lambda split, x, y: SplitSample(split, x.double(), y, torch.arange(len(x)), len(x), (6,))
    return make("train", X[:192], y[:192]), make("test", X[192:], y[192:])


def test_every_check_is_called_here_and_passes_on_a_correct_model():
    exported = {name for name in checks.__all__ if inspect.isfunction(getattr(checks, name))}
    uses = _uses()
    assert set(uses) == exported, f"call each exported check here: {sorted(exported ^ set(uses))}"
    for name, call in uses.items():
        verdict = call()
        assert isinstance(verdict, checks.Verdict) and verdict.status == "passed", f"{name}: {verdict.message}"


def test_checks_leave_the_users_model_as_it_was():
    net = Net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    checks.learns_from_inputs(net, TRAIN, TEST, F.cross_entropy)
    checks.overfit_batch(net, F.cross_entropy, X[:8], Y[:8])
    checks.wider_no_worse(net, Net(32), TRAIN, F.cross_entropy)
    checks.every_param_learns(net, F.cross_entropy, X[:8], Y[:8])
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training  # the mode is given back too


def test_standalone_checks_still_catch_planted_bugs():
    """The same calls halt what they exist for: batch mixing, a missing bias on skewed data, a
    model that ignores its inputs, a loss that goes up."""

    class Mixer(Net):
        def forward(self, x):
            return super().forward(x - x.mean(0))

    assert not checks.independent_samples(Mixer(), X[:8]).passed
    skewed = torch.cat([torch.zeros(180, dtype=torch.long), torch.ones(12, dtype=torch.long)])
    assert not checks.loss_at_init(nn.Linear(6, 2), Classify(2), [(X[:192], skewed)], skewed).passed
    blind = nn.Sequential(nn.Linear(6, 2))
    with torch.no_grad():
        blind[0].weight.zero_()
    blind[0].weight.requires_grad_(False)
    assert not checks.learns_from_inputs(blind, TRAIN, TEST, F.cross_entropy).passed
    assert not checks.loss_decreased(torch.linspace(1.0, 2.0, 100)).passed
