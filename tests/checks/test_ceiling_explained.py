"""ceiling_explained: a test metric at its ceiling is searched for what explains it; a finding halts,
nothing found passes with a note, a metric off its ceiling has nothing to explain."""

from bench import plants
from bench.zoo import data
from saneloop.checks.ceiling_explained import CeilingExplainedSettings, ceiling_search
from saneloop.checks.hidden_leak import HiddenLeakSettings, hidden_leaks
from saneloop.datasets import digits_binary
from tests.checks.test_hidden_leak import tagged_texts
from tests.checks.test_split_overlap import sample


def search(train, test, headline="accuracy", value=1.0):
    return ceiling_search(headline, value, (sample(train, "train"), sample(test, "test")), CeilingExplainedSettings())


def test_off_the_ceiling_nothing_is_searched():
    never = lambda: (_ for _ in ()).throw(AssertionError("read below the ceiling"))  # noqa: E731
    verdict = ceiling_search("accuracy", 0.97, never, CeilingExplainedSettings())
    assert verdict.passed and "not at its ceiling" in verdict.message
    assert ceiling_search("bits_per_char", 0.0, never, CeilingExplainedSettings()).passed  # no ceiling


def test_easy_clean_tasks_at_the_ceiling_pass_saying_so():
    for train, test, headline in (
        (*data.table("wine", test_size=40), "accuracy"),
        (*data.table("breast_cancer", test_size=140), "accuracy"),
        (*digits_binary(), "auroc"),
    ):
        verdict = search(train, test, headline)
        assert verdict.passed and "A task can be easy" in verdict.message, verdict.message
    law = search(*data.table_column("breast_cancer", column=0, test_size=140), "r2", 0.995)
    assert law.passed and "R^2 0.999" in law.message  # a law found, short of a fixed rule's 0.9999


def test_a_leak_setup_lets_through_explains_a_perfect_accuracy():
    train, test = tagged_texts(n=3000, tag_share=0.93)  # the label token in 93% of the texts
    setup = hidden_leaks(sample(train, "train"), sample(test, "test"), HiddenLeakSettings())
    assert setup.passed and 0.9 < setup.value < 0.95, setup.message  # under setup's bar for a copy
    verdict = search(train, test)
    assert not verdict.passed and "token id 20" in verdict.message and "at its ceiling" in verdict.message


def test_a_target_that_is_a_sum_explains_an_r2_at_its_ceiling():
    verdict = search(*plants.sum_leak("saneloop.datasets.diabetes"), "r2", 0.995)
    assert not verdict.passed and "features 0 + 1" in verdict.message
