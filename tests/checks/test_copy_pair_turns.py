"""input_independent's two copies take turns (issue 21): the same statistics as two copies in lockstep, bit for
bit, while never two trained copies (weights, gradients, optimizer state) are resident at once."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from saneloop.checks.input_independent import zero_inputs
from saneloop.checks.measure import copy_pair, parking
from saneloop.checks.measure.copy_pair import CopyPair
from saneloop.checks.measure.fitting import cycled, each, paired_draws, step
from saneloop.checks.measure.per_example import ExampleLoss
from saneloop.models.forward import DEFAULT_OUTPUTS, forward


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(300, 8, generator=gen)
    y = (x[:, 0] + 0.3 * torch.randn(300, generator=gen) > 0).long()
    train = DataLoader(TensorDataset(x[:240], y[:240]), batch_size=16, shuffle=True)  # shuffled by the global RNG
    return train, list(each(DataLoader(TensorDataset(x[240:], y[240:]), batch_size=20)))


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 2))


def _adam(params):
    return torch.optim.Adam(params, lr=3e-3)


@torch.no_grad()
def _losses(model, held, zero):
    model.eval()
    return torch.cat(
        [F.cross_entropy(forward(model, zero(b), DEFAULT_OUTPUTS), b.targets, reduction="none") for b in held]
    )


def _lockstep(model, train, held, steps):
    """The design before turns: two deep copies, one step each per batch, the same draws."""
    real, zeroed = copy.deepcopy(model), copy.deepcopy(model)
    opt_real, opt_zeroed = _adam(real.parameters()), _adam(zeroed.parameters())
    real.train(), zeroed.train()
    for batch in cycled(train, steps):
        with paired_draws() as again:
            step(real, opt_real, F.cross_entropy, batch)
            again()
            step(zeroed, opt_zeroed, F.cross_entropy, zero_inputs(batch))
    return _losses(real, held, lambda b: b), _losses(zeroed, held, zero_inputs), torch.rand(3)


def _turns(model, train, held, stretches):
    pair = CopyPair(model, _adam, None, DEFAULT_OUTPUTS)
    batches, scorer = cycled(train, sum(stretches)), ExampleLoss(F.cross_entropy)
    pair.score(held, scorer, zero_inputs)
    for count in stretches:
        pair.train(batches, count, F.cross_entropy, zero_inputs, None)
        scores = pair.score(held, scorer, zero_inputs)
    after = torch.rand(3)  # the random state the steps left behind
    pair.close()
    return scores.real, scores.zeroed, after


@pytest.mark.parametrize("park_every_copy", [False, True])
def test_unit_turns_give_the_lockstep_scores_bit_for_bit(monkeypatch, tmp_path, park_every_copy):
    """Dropout and a loader shuffled by the global random state: the draws interleave with the batches. Parked
    to files (every copy, however small) and in turns of a few steps (recorded batches over 1 kB) or not."""
    if park_every_copy:
        monkeypatch.setattr(parking, "MIN_FILE_BYTES", 0)
        monkeypatch.setattr(copy_pair, "TURN_BYTES", 1024)
        monkeypatch.setattr(parking.tempfile, "tempdir", str(tmp_path))
    train, held = _data()
    torch.manual_seed(1)
    expected = _lockstep(_model(), train, held, 30)
    torch.manual_seed(1)
    found = _turns(_model(), train, held, [10, 20])
    for want, got in zip(expected, found):
        assert torch.equal(want, got)
    assert list(tmp_path.iterdir()) == []  # no parked file left behind


def test_unit_never_two_trained_copies_resident(monkeypatch, tmp_path):
    """At every training step of either copy, the other copy holds no weights and no optimizer state; closing
    the pair removes its parked files."""
    monkeypatch.setattr(parking, "MIN_FILE_BYTES", 0)
    monkeypatch.setattr(parking.tempfile, "tempdir", str(tmp_path))
    train, held = _data()
    pair = CopyPair(_model(), _adam, None, DEFAULT_OUTPUTS)
    resident = []

    def counted(model, optimizer, *args):
        others = [m for m in (pair.real, pair.zeroed) if m is not None and m is not model]
        opts = [o for o in (pair.opt_real, pair.opt_zeroed) if o is not None and o is not optimizer]
        held_elsewhere = sum(p.numel() for m in others for p in m.parameters())
        held_elsewhere += sum(t.numel() for o in opts for s in o.state.values() for t in s.values() if t.dim())
        resident.append(held_elsewhere)
        return step(model, optimizer, *args)

    monkeypatch.setattr(copy_pair, "step", counted)
    pair.score(held, ExampleLoss(F.cross_entropy), zero_inputs)
    pair.train(cycled(train, 40), 40, F.cross_entropy, zero_inputs, None)
    pair.score(held, ExampleLoss(F.cross_entropy), zero_inputs)
    assert len(resident) == 80 and max(resident) == 0
    assert len(list(tmp_path.iterdir())) == 1  # the copy parked last
    pair.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_turns_park_in_cpu_memory_and_free_everything():
    """On CUDA a parked copy waits in CPU memory: the scores are the lockstep's, and nothing the copies
    allocated stays on the device after the gate."""
    device = torch.device("cuda")
    train, held = _data()
    train, held, model = [b.to(device) for b in each(train)], [b.to(device) for b in held], _model().to(device)
    torch.manual_seed(1)
    expected = [t.cpu() for t in _lockstep(model, train, held, 30)[:2]]
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.manual_seed(1)
    found = [t.cpu() for t in _turns(model, train, held, [10, 20])[:2]]
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated() <= before
    for want, got in zip(expected, found):
        assert torch.equal(want, got)
