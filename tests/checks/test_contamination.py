import torch

from saneloop.checks.contamination import ContaminationSettings, copies_inflate, copy_metrics
from saneloop.datasets import digits
from saneloop.tasks import Classify
from tests.conftest import FAST, gate, run_pipeline

TEST = digits()[1]
TARGETS = TEST.tensors[1]


def predictions(copied: list[int], remembered: bool, seed: int = 0) -> torch.Tensor:
    """Logits of a model right on ~63% of the digits test set, each item's from the same noise; a model that
    `remembered` its training items answers the copies from a lookup (a confident one-hot)."""
    gen = torch.Generator().manual_seed(seed)
    logits = 1.5 * torch.randn(len(TARGETS), 10, generator=gen)
    logits[torch.arange(len(TARGETS)), TARGETS] += 3.0
    if remembered:
        logits[copied] = 12.0 * torch.nn.functional.one_hot(TARGETS[copied], 10).float()
    return logits


def judge(copied: list[int], remembered: bool, seed: int = 0):
    outputs = predictions(copied, remembered, seed)
    return copies_inflate(Classify(10), outputs, TARGETS, torch.arange(len(TARGETS)), copied, ContaminationSettings())


def test_a_model_that_remembers_the_copies_halts_and_both_metrics_are_given():
    copied = list(range(0, 449, 9))  # 50 copies, 11%: under setup's bar
    verdict = judge(copied, remembered=True)
    metrics = copy_metrics(verdict)
    assert not verdict.passed and verdict.value > 6 and metrics.copies == 1.0 and metrics.copied_items == 50
    assert (
        metrics.clean < metrics.all < metrics.copies
        and "remembers the test items it saw in training" in verdict.message
    )
    assert f"{metrics.clean:.4f} on the 399 without a training copy" in verdict.message


def test_copies_a_model_scores_like_any_other_item_pass_on_every_seed():
    copied = list(range(0, 449, 9))
    for seed in range(5):
        verdict = judge(copied, remembered=False, seed=seed)
        assert verdict.passed and abs(verdict.value) < 3, verdict.message
        assert copy_metrics(verdict).clean_items == 399


def test_a_handful_of_remembered_copies_cannot_halt_on_luck():
    """3 copies answered perfectly: the easiest items of a test set may be copies by nature; reported, not judged."""
    verdict = judge([5, 50, 51], remembered=True)
    assert (
        verdict.passed
        and verdict.value is None
        and "too few copies" in verdict.message
        and copy_metrics(verdict).copies == 1.0
    )


def test_without_copies_nothing_is_computed():
    verdict = copies_inflate(Classify(10), None, TARGETS, torch.arange(len(TARGETS)), [], ContaminationSettings())
    assert verdict.passed and verdict.value == 0 and copy_metrics(verdict) is None


def digits_with_copies(copies: int = 13, repeats: int = 22, test_size: int = 449, split_seed: int = 0):
    """A correct split with what real data carries: 3% of the test items equal training items, and 22 test
    items twice (duplicates within the test set)."""
    train, test = digits(test_size, split_seed)
    (x, y), (xt, yt) = train.tensors, test.tensors
    xt, yt = xt.clone(), yt.clone()
    xt[:copies], yt[:copies] = x[-copies:], y[-copies:]  # the last training items: never carved for validation
    return train, torch.utils.data.TensorDataset(torch.cat([xt, xt[-repeats:]]), torch.cat([yt, yt[-repeats:]]))


def test_a_correct_run_with_a_few_percent_copies_passes_and_reports_both_metrics(tmp_path):
    code, report = run_pipeline(tmp_path, *FAST, "data._target_=tests.checks.test_contamination.digits_with_copies")
    assert (
        gate(report, "split_overlap")["status"] == "passed"
        and "449 distinct test items of 471" in gate(report, "split_overlap")["message"]
    )
    assert code == 0 and gate(report, "contamination")["status"] == "passed"
    found = report["contamination"]
    assert found["copied_items"] == 13 and found["clean_items"] == 458 and found["all"] == report["metrics"]["accuracy"]
    assert "## Test items with a training copy" in (tmp_path / "report.md").read_text()


def test_a_few_remembered_copies_that_stay_inside_the_error_bar_pass_with_both_metrics():
    """Natural duplication: 12 copies (2.7%) remembered, the rest as any item; the copies clearly rank better,
    yet they lower the mean test loss by under 5% of the clean items': the number quoted stands."""
    few = judge(list(range(0, 449, 37)), remembered=True)
    metrics = copy_metrics(few)
    assert few.passed and few.value > 3 and metrics.copies == 1.0 and metrics.clean < metrics.all
    assert "so the number quoted is not misled" in few.message and metrics.shift < 0.05 * metrics.clean_loss
    many = judge(list(range(0, 449, 9)), remembered=True)
    assert not many.passed and copy_metrics(many).shift > 0.05 * copy_metrics(many).clean_loss
