import torch

from saneloop.checks.replicas import judge, parameter_hashes
from saneloop.models import MLP


def test_hashes_are_exact_and_name_the_parameters_that_differ():
    torch.manual_seed(0)
    a = MLP(64, 10, hidden=16)
    b = MLP(64, 10, hidden=16)
    b.load_state_dict(a.state_dict())
    names, ha = parameter_hashes(a)
    _, hb = parameter_hashes(b)
    assert torch.equal(ha, hb) and judge(names, torch.stack([ha, hb]), 1, 1).passed
    with torch.no_grad():
        b.head.bias[3] += 1e-7  # one float's last bits
    _, hb = parameter_hashes(b)
    verdict = judge(names, torch.stack([ha, ha, hb]), 5, 2)
    assert not verdict.passed and "head.bias" in verdict.message and "process(es) [2]" in verdict.message
    assert "at step 5, 1 of 6 parameter tensors" in verdict.message
