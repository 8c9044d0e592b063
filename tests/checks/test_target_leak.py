from bench import plants
from saneloop.checks.target_leak import TargetLeakSettings, leaking_features
from saneloop.datasets import diabetes, digits, digits_binary, tiny_shakespeare
from tests.checks.test_split_overlap import sample
from tests.conftest import FAST, assert_halted_at, run_pipeline, stop_after


def check(train, test):
    return leaking_features(sample(train, "train"), sample(test, "test"), TargetLeakSettings())


def test_clean_features_are_far_from_predicting_the_target_alone():
    for data, best in ((digits(), 0.6), (diabetes(), 0.4), (digits_binary(), 0.5), (tiny_shakespeare(), 0.45)):
        verdict = check(*data)
        assert verdict.passed and verdict.value < best, verdict.message


def test_a_very_predictive_feature_is_not_a_copy_of_the_target():
    from bench.zoo import data

    assert check(*data.table("iris", test_size=40)).passed  # petal width separates the classes on test
    area = check(*data.table_column("breast_cancer", column=3, test_size=140))  # area from radius: a law
    assert area.passed and 0.95 < area.value < 0.99
    assert area.margin > 10  # measured from perfect: 1 - R^2 = 0.026 of the variance left, 26x the bar's 0.001
    small = check(*data.digits_subset(train_size=300, test_size=40))  # 40 test items: one pixel perfect by luck
    assert small.passed and small.value < 0.7


def test_a_label_written_into_one_feature_halts_naming_it():
    for source in ("saneloop.datasets.digits", "saneloop.datasets.diabetes", "saneloop.datasets.digits_binary"):
        verdict = check(*plants.leaked_target(source))
        assert not verdict.passed and verdict.details["leaks"] == [0], (source, verdict.message)
        assert "feature 0" in verdict.message and "label" in verdict.message


def test_a_one_hot_label_column_halts_each_pixel_singling_out_its_class():
    verdict = check(*plants.onehot_leak("saneloop.datasets.digits"))
    assert not verdict.passed and verdict.details["leaks"] == list(range(10))


def test_a_target_computed_from_two_columns_is_not_seen_by_one_column():
    assert check(*plants.sum_leak("saneloop.datasets.diabetes")).passed  # each column alone: R^2 ~0.2


def test_pipeline_halts_the_bench_case_that_every_gate_passed_before(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        *FAST,
        "data._target_=bench.plants.leaked_target",
        "+data.source=saneloop.datasets.digits",
        stop_after("target_leak"),
    )
    assert_halted_at(code, report, "setup", "target_leak")


def test_padding_positions_labelled_minus_100_are_not_a_leak():
    import torch

    gen = torch.Generator().manual_seed(0)
    x = torch.randint(1, 8, (300, 12), generator=gen)
    x[:, 8:] = 0  # padding id 0 at the last positions...
    y = torch.roll(x, -1, 1)
    y[:, 7:] = -100  # ...labelled -100, as a collator does
    train, test = torch.utils.data.TensorDataset(x[:200], y[:200]), torch.utils.data.TensorDataset(x[200:], y[200:])
    assert check(train, test).passed
