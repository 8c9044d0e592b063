"""hidden_leak: a label written as one token wherever it sits, and a target that is the sum of two columns,
halt at setup; target_leak (one fixed feature at a time) passes both, and clean data passes."""

import pytest
import torch
from torch.utils.data import TensorDataset

from bench import plants
from bench.zoo import data, sequences
from saneloop.checks.hidden_leak import HiddenLeakSettings, hidden_leaks
from saneloop.checks.target_leak import TargetLeakSettings, leaking_features
from saneloop.datasets import diabetes
from tests.checks.test_split_overlap import sample
from tests.conftest import FAST, assert_halted_at, run_pipeline, stop_after


def check(train, test, **settings):
    return hidden_leaks(sample(train, "train"), sample(test, "test"), HiddenLeakSettings(**settings))


def tagged_texts(n: int = 1000, width: int = 32, seed: int = 0, tag_share: float = 1.0):
    """Token texts of 5-29 ids (1-199), padded with 0; the label's own token (200 + label) written after the
    last word, so at a different position in each item, in a `tag_share` of the items."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=gen)
    ends = torch.randint(5, 30, (n,), generator=gen)
    x = torch.randint(1, 200, (n, width), generator=gen)
    position = torch.arange(width)[None, :]
    tagged = torch.rand(n, generator=gen) < tag_share
    x[(position == ends[:, None]) & tagged[:, None]] = (200 + y)[tagged]
    x[position > ends[:, None]] = 0
    cut = int(0.8 * n)
    return TensorDataset(x[:cut], y[:cut]), TensorDataset(x[cut:], y[cut:])


def test_a_label_written_as_one_token_at_a_varying_position_halts_naming_the_tokens():
    train, test = tagged_texts()
    missed = leaking_features(sample(train, "train"), sample(test, "test"), TargetLeakSettings())
    assert missed.passed  # the miss: no fixed position holds the label
    verdict = check(train, test)
    assert not verdict.passed and verdict.value == 1.0, verdict.message
    assert {"token id 200 present -> class 0", "token id 201 present -> class 1"} <= {
        name.split(" (")[0] for name in verdict.details["leaks"]
    }
    assert "wherever it sits" in verdict.message or "padding left out" in verdict.message


def test_padding_is_not_a_token_even_when_length_tells_the_class():
    x = torch.randint(1, 50, (600, 20), generator=torch.Generator().manual_seed(1))
    y = torch.arange(600) % 2
    x[y == 1, 10:] = 0  # class 1 is short: only its items hold padding (id 0)
    verdict = check(TensorDataset(x[:400], y[:400]), TensorDataset(x[400:], y[400:]))
    assert verdict.passed and verdict.value < 0.5, verdict.message  # counted, padding (id 0) would be 1.0


def test_clean_token_data_passes_with_a_wide_margin():
    verdict = check(*sequences.majority_token())  # the class's token fills 30% of positions: 0.13
    assert verdict.passed and verdict.value < 0.3 and verdict.margin > 5, verdict.message
    assert check(*tagged_texts(tag_share=0.0)).value < 0.1


def test_a_target_that_is_the_sum_of_two_columns_halts_naming_the_pair():
    verdict = check(*plants.sum_leak("saneloop.datasets.diabetes"))
    assert not verdict.passed and verdict.details["leaks"][0].startswith("features 0 + 1"), verdict.message


def test_clean_regression_and_laws_measured_with_noise_pass():
    assert check(*diabetes()).value < 0.5
    law = check(*data.table_column("breast_cancer", column=0, test_size=140))  # radius from perimeter and shape
    assert law.passed and 0.99 < law.value < 0.9995 and law.margin > 1, law.message


def test_class_labels_over_float_inputs_have_no_probe():
    from saneloop.datasets import digits

    assert check(*digits()).status == "skipped"


def test_pipeline_halts_the_bench_miss_at_setup(tmp_path):
    code, report = run_pipeline(
        tmp_path,
        *FAST,
        "data._target_=bench.plants.sum_leak",
        "+data.source=saneloop.datasets.diabetes",
        stop_after("hidden_leak"),
        recipe="regress",
    )
    found = assert_halted_at(code, report, "setup", "hidden_leak")
    assert "features 0 + 1" in found["message"]


def test_label_token_text_halts_at_setup(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from tests.test_hf_examples import run_example

    tagged = "data._target_=bench.plants.hf.label_token"
    code, report = run_example(tmp_path, monkeypatch, "hf_speakers", "hf_speakers", tagged, stop_after("hidden_leak"))
    assert "token id 1023 present -> class 0" in assert_halted_at(code, report, "setup", "hidden_leak")["message"]


@pytest.mark.slow
def test_the_clean_text_passes(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    from tests.test_hf_examples import run_example

    code, report = run_example(tmp_path, monkeypatch, "hf_speakers", "hf_speakers", stop_after("hidden_leak"))
    found = next(g for s in report["stages"] for g in s["gates"] if g["name"] == "hidden_leak")
    assert found["status"] == "passed" and found["value"] < 0.3, found  # seed 0: 0.14
