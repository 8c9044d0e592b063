import torch
import torch.nn.functional as F

from bench import plants
from saneloop.checks.grad_accumulation import accumulation_matches, target_counts
from saneloop.data.batch import Batch
from saneloop.models import MLP
from tests.conftest import FAST, assert_halted_at, gate, run_pipeline, stop_after

GEN = torch.Generator().manual_seed(0)
X = torch.rand(128, 1, 8, 8, generator=GEN)
Y = torch.randint(0, 10, (128,), generator=GEN)


def _model():
    torch.manual_seed(0)
    return MLP(64, 10, hidden=32, dropout=0.2)


def test_equal_micro_batches_give_the_big_batch_gradient():
    verdict = accumulation_matches(_model(), F.cross_entropy, Batch((X,), {}, Y), 2)
    assert verdict.passed and verdict.value < 1e-5, verdict.message


def test_uneven_ignored_targets_weighted_per_micro_batch_fail():
    y = Y.clone()
    y[:40] = -100  # the first micro-batch keeps 24 targets, the second 64
    verdict = accumulation_matches(_model(), F.cross_entropy, Batch((X,), {}, y), 2)
    assert not verdict.passed and "holding [24, 64] targets" in verdict.message and "uneven" in verdict.message


def test_targets_are_counted_without_the_ignored_ones():
    y = Y.clone()
    y[:40] = -100
    assert target_counts(y) == 88 and target_counts({"labels": y, "other": Y}) == 216
    assert target_counts(torch.zeros(5, 2)) == 10  # float targets: every element counts


def test_dict_batches_with_padding_labels():
    tokens = torch.randint(0, 8, (8, 12), generator=GEN)
    labels = tokens.clone()
    labels[:4, 3:] = -100  # padded: the first half of the batch is short
    model = plants.TinyCausalLM(8)
    loss = lambda out, tgt: F.cross_entropy(out.reshape(-1, 8), tgt.reshape(-1))
    verdict = accumulation_matches(model, loss, Batch((), {"tokens": tokens}, labels), 2)
    assert not verdict.passed and "[12, 48] targets" in verdict.message
    assert accumulation_matches(model, loss, Batch((), {"tokens": tokens}, tokens), 2).passed


def test_pipeline_halts_in_sanity_with_accumulation_over_uneven_targets(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        *FAST,
        "data._target_=bench.plants.ignored_targets",
        "+data.source=saneloop.datasets.digits",
        "task._target_=bench.plants.IgnoringClassify",
        "accelerator.gradient_accumulation_steps=2",
        stop_after("grad_accumulation"),
    )
    assert_halted_at(code, report, "sanity", "grad_accumulation")


def test_default_classify_with_accumulation_passes(tmp_path):
    code, report = run_pipeline(
        tmp_path, *FAST, "accelerator.gradient_accumulation_steps=2", stop_after("grad_accumulation")
    )
    assert gate(report, "grad_accumulation")["status"] == "passed", gate(report, "grad_accumulation")
