import torch

from bench import plants
from saneloop.checks.measure.neighbours import close_pairs
from saneloop.checks.split_overlap import SplitOverlapSettings, overlapping_items
from saneloop.data.sample import SplitSample
from saneloop.datasets import diabetes, digits, tiny_shakespeare
from tests.conftest import FAST, assert_halted_at, run_pipeline, stop_after


def sample(dataset, split: str) -> SplitSample:
    x, y = dataset.tensors
    rows = x.reshape(len(x), -1)
    return SplitSample(
        split, rows if not rows.is_floating_point() else rows.double(), y, torch.arange(len(x)), len(x), ()
    )


def check(train, test, **settings):
    return overlapping_items(sample(train, "train"), sample(test, "test"), SplitOverlapSettings(**settings))


def test_clean_splits_pass_with_a_wide_margin():
    for train, test in (digits(), diabetes(), tiny_shakespeare()):
        verdict = check(train, test)
        assert verdict.passed and verdict.value == 0, verdict.message
    # the closest clean test item is still 0.45 x the typical distance away: 3.5x the threshold
    assert not check(*digits(), near_ratio=0.4).value and check(*digits(), near_ratio=0.5).value


def test_a_split_made_twice_halts_with_exact_pairs():
    verdict = check(*plants.resplit("saneloop.datasets.digits"))
    assert not verdict.passed and len(verdict.details["exact"]) == 6
    assert (
        "of 449 test items have a copy in the training set" in verdict.message and "split made twice" in verdict.message
    )
    train, test = plants.resplit("saneloop.datasets.digits")
    i, j = verdict.details["exact"][0]
    assert torch.equal(train[i][0], test[j][0])


def test_near_copies_halt_without_exact_ones():
    train, test = plants.near_copies("saneloop.datasets.digits")
    verdict = check(train, test)
    assert not verdict.passed and not verdict.details["exact"] and verdict.value == 224  # 224 planted
    assert all(j < 224 for _, j in verdict.details["near"])


def test_copies_within_the_test_set_are_reported_with_the_distinct_count_and_never_halt():
    """Windows drawn at random that share a start: a duplicate weighs its item twice, it does not measure memory."""
    train, test = digits()
    x, y = test.tensors
    doubled = torch.utils.data.TensorDataset(torch.cat([x, x[:50]]), torch.cat([y, y[:50]]))
    verdict = check(train, doubled)
    assert verdict.passed and verdict.value == 0 and (0, 449) in verdict.details["within_test"]
    assert verdict.details["distinct"] == 449 and "449 distinct test items of 499" in verdict.message


def test_hashing_finds_every_close_pair_that_all_pairs_would():
    gen = torch.Generator().manual_seed(0)
    rows = torch.randn(600, 32, generator=gen, dtype=torch.double)
    rows[300:340] = rows[:40] + 0.02 * torch.randn(40, 32, generator=gen, dtype=torch.double)
    d = torch.cdist(rows, rows)
    truth = {(i, j) for i, j in (d < 0.5).nonzero().tolist() if i < j}
    found = {tuple(p) for p in close_pairs(rows, 0.5).tolist()}
    assert found == truth and len(truth) == 40


def test_pipeline_halts_at_setup_with_a_figure_of_the_pairs(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        *FAST,
        "data._target_=bench.plants.resplit",
        "+data.source=saneloop.datasets.digits",
        stop_after("split_overlap"),
    )
    found = assert_halted_at(code, report, "setup", "split_overlap")
    assert found["value"] > 300 and (tmp_path / "figures" / "split_overlap.png").is_file()


def test_a_large_split_is_sampled_and_the_verdict_says_so():
    from functools import partial

    from torch.utils.data import DataLoader

    from saneloop.data.batch import BatchFormat
    from saneloop.data.loaders import Loaders
    from saneloop.data.sample import read_split

    train, test = plants.resplit("saneloop.datasets.digits")
    loaders = Loaders(
        train, test, partial(DataLoader, batch_size=64), partial(DataLoader, batch_size=256), BatchFormat(), 0
    )
    a, b = read_split(loaders, "train", 600, 0), read_split(loaders, "test", 600, 0)
    assert len(a.rows) == 600 and len(b.rows) == 449 and a.indices.tolist() == sorted(a.indices.tolist())
    assert torch.equal(a.rows[0], train[int(a.indices[0])][0].reshape(-1).double())  # read as the run reads it
    verdict = overlapping_items(a, b, SplitOverlapSettings(max_items=600))
    assert not verdict.passed and "sampled 600 of 1348 training" in verdict.message


def test_items_common_in_the_data_are_reported_not_counted():
    """A speaker's name on its own line: many times in training, a few times in test, not a split bug."""
    train, test = digits()
    x, y = train.tensors
    xt, yt = test.tensors
    common = x[:1]
    x2 = torch.cat([x, common.expand(9, -1, -1, -1)])
    xt2 = torch.cat([xt, common.expand(6, -1, -1, -1)])
    verdict = check(
        torch.utils.data.TensorDataset(x2, torch.cat([y, y[:1].expand(9)])),
        torch.utils.data.TensorDataset(xt2, torch.cat([yt, y[:1].expand(6)])),
    )
    assert verdict.passed and "6 test items repeat a common item" in verdict.message


def _pad_lines(items: list[dict]) -> dict:
    """A padding collator: input ids padded with 0 to the batch's longest line, labels with -100."""
    width = max(len(item["input_ids"]) for item in items)
    ids = torch.zeros(len(items), width, dtype=torch.long)
    mask = torch.zeros(len(items), width, dtype=torch.long)
    for k, item in enumerate(items):
        ids[k, : len(item["input_ids"])] = torch.tensor(item["input_ids"])
        mask[k, : len(item["input_ids"])] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": ids.masked_fill(mask == 0, -100)}


def test_the_figure_draws_pairs_of_lines_of_different_lengths():
    """Text lines of any length (a user's line dataset, padded per batch): the pairs drawn side by side are
    padded to the longest, as the collator pads a batch (the figure raised 'Sizes of tensors must match')."""
    from functools import partial

    from torch.utils.data import DataLoader

    from saneloop.data.batch import BatchFormat
    from saneloop.data.loaders import Loaders
    from saneloop.stages.setup_splits import pairs_figure
    from saneloop.tasks import CharLM

    vocab = "·\n abcdefghijklmnopqrstuvwxyz"
    encode = lambda line: {"input_ids": [vocab.index(c) for c in line]}
    train = [encode(line) for line in ("\nto be or not\n", "\nay\n", "\nwhat light through yonder\n")]
    test = [encode(line) for line in ("\nay\n", "\nwhat light through yonder\n", "\nhello\n")]
    loader = partial(DataLoader, batch_size=2, collate_fn=_pad_lines)
    loaders = Loaders(train, test, loader, loader, BatchFormat(), 0)
    task = CharLM(len(vocab), vocab=vocab, shift_labels=True)
    figure = pairs_figure(task, loaders, [("train", 1, 0), ("train", 2, 1), ("test", 0, 2)])
    text = "\n".join(t.get_text() for ax in figure.axes for t in ax.texts)
    assert text.count("=>") == 6 and "what light through yonder" in text and "hello" in text


def _with_copies(train, test, copies: int, repeats: int = 0):
    """The test set with its first `copies` items replaced by training items, and its first `repeats` items
    appended again (duplicates within the test set)."""
    (x, y), (xt, yt) = train.tensors, test.tensors
    xt, yt = xt.clone(), yt.clone()
    xt[:copies], yt[:copies] = x[100 : 100 + copies], y[100 : 100 + copies]
    return train, torch.utils.data.TensorDataset(torch.cat([xt, xt[:repeats]]), torch.cat([yt, yt[:repeats]]))


def test_text_with_a_few_percent_copies_passes_and_lists_every_copy_for_evaluate():
    """Real text repeats itself (0.3-5% of test items equal a training item): below the bar, setup passes and
    hands every copied test item to evaluate, where their effect on the metric is judged."""
    train, test = _with_copies(*tiny_shakespeare(), copies=52, repeats=22)  # 3% copies, 22 within-test pairs
    verdict = check(train, test)
    assert verdict.passed and verdict.value == 52 + 22  # the repeats of copied items are copies too
    assert verdict.details["copied"] == list(range(52)) + list(range(1742, 1764))
    assert "1742 distinct test items of 1764" in verdict.message and "contamination" in verdict.message


def test_half_the_test_set_drawn_from_training_halts_as_a_split_bug():
    verdict = check(*_with_copies(*digits(), copies=224))
    assert not verdict.passed and verdict.value == 224 and "50% of the test set" in verdict.message


def test_a_standardised_split_made_twice_is_seen_through_its_near_copies():
    """Each split standardised on its own statistics: the copies are near, not exact (0.10-0.27 x the spacing)."""
    verdict = check(*plants.resplit("saneloop.datasets.diabetes"))
    assert not verdict.passed and verdict.value >= 70 and not verdict.details["exact"]
