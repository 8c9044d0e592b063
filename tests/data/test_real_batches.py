"""Real training code's batches and outputs: dict outputs, ignore index, padded targets, refusals."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from saneloop.checks import loss_at_init
from saneloop.checks.measure.probing import zeroed_embedding
from saneloop.data.batch import Batch, BatchFormat
from saneloop.data.padding import cat_padded
from saneloop.data.summary import summarize
from saneloop.errors import InputError
from saneloop.models.forward import ModelOutputs, forward
from saneloop.stages.setup_contract import refuse_unfit_batch
from saneloop.tasks import Binary, CharLM, Classify


class DictOut(nn.Module):
    def __init__(self, key: str = "logits") -> None:
        super().__init__()
        self.key, self.lin = key, nn.Linear(3, 2)

    def forward(self, x):
        return {self.key: self.lin(x), "hidden": x}


def test_logits_are_read_from_a_dict_or_an_object_and_a_missing_key_is_named():
    batch = Batch((torch.randn(4, 3),), {}, torch.zeros(4, dtype=torch.long))
    assert forward(DictOut(), batch).shape == (4, 2)
    with pytest.raises(InputError, match=r"no logits under 'logits'.*model_output.logits_key"):
        forward(DictOut("scores"), batch)
    assert forward(DictOut("scores"), batch, ModelOutputs(logits_key="scores")).shape == (4, 2)


def test_a_batch_key_the_model_does_not_take_is_refused_naming_it():
    batch = Batch((), {"x": torch.randn(2, 3), "token_type_ids": torch.zeros(2, 3)}, torch.zeros(2))
    with pytest.raises(InputError, match=r"key 'token_type_ids' that my.Model.forward does not take"):
        refuse_unfit_batch(DictOut(), batch, "my.Model")


def test_ignored_targets_count_nowhere_in_classify():
    task = Classify(3)
    targets = torch.tensor([0, 0, 1, -100, -100, 2])
    logits = torch.zeros(6, 3)
    assert task.target_problems(targets) == [] and task.missing_targets(targets) == []
    assert task.metrics(logits, targets)["count"] == 4
    entropy, _ = task.expected_init_loss(targets)
    assert math.isclose(entropy, -(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)), rel_tol=1e-6)
    assert math.isclose(float(task.loss(logits, targets)), math.log(3), rel_tol=1e-6)


def test_ignored_targets_count_nowhere_in_binary():
    task = Binary()
    targets = torch.tensor([0.0, 1.0, -100.0, 1.0])
    assert task.target_problems(targets) == [] and task.metrics(torch.zeros(4, 1), targets)["count"] == 3
    assert math.isclose(task.expected_init_loss(targets)[0], -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))


def test_charlm_shift_labels_scores_output_t_against_label_t_plus_1_and_skips_padding():
    task = CharLM(5, shift_labels=True)
    ids = torch.tensor([[1, 2, 3, 0], [4, 3, 2, 1]])
    labels = torch.tensor([[1, 2, 3, -100], [4, 3, 2, 1]])
    logits = torch.randn(2, 4, 5)
    want = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 5), labels[:, 1:].reshape(-1))
    assert torch.allclose(task.loss(logits, labels), want)
    assert task.metrics(logits, labels)["tokens"] == 5
    assert task.pair_problems(ids, labels) == []
    twice = task.pair_problems(ids, torch.tensor([[2, 3, -100, -100], [3, 2, 1, -100]]))
    assert twice and "shifted twice" in twice[0].why


class Ragged(Dataset):
    def __init__(self, lengths) -> None:
        self.lengths = lengths

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        ids = torch.arange(1, self.lengths[i] + 1)
        return {"input_ids": ids, "labels": ids}


def test_variable_length_targets_are_summarised_padded_with_the_ignore_index():
    summary = summarize(Ragged([2, 4, 3]), "train")
    assert summary.targets.tolist() == [[1, 2, -100, -100], [1, 2, 3, 4], [1, 2, 3, -100]]
    assert cat_padded([torch.ones(1, 2), torch.ones(2, 3)], -1).tolist() == [[1, 1, -1], [1, 1, 1], [1, 1, 1]]


def test_summary_reads_through_a_collator_that_makes_the_labels():
    def collate(items):  # pads and makes labels, as DataCollatorForLanguageModeling does
        ids = nn.utils.rnn.pad_sequence([it["input_ids"] for it in items], batch_first=True)
        return {"input_ids": ids, "labels": ids.masked_fill(ids == 0, -100)}

    data = [{"input_ids": torch.arange(1, n + 1)} for n in (2, 3)]
    summary = summarize(data, "train", BatchFormat(), collate=collate)
    assert summary.targets.tolist() == [[1, 2, -100], [1, 2, 3]] and summary.nonfinite == []


def _pad_and_label(items):
    ids = nn.utils.rnn.pad_sequence([it["input_ids"] for it in items], batch_first=True)
    return {"input_ids": ids, "labels": ids.masked_fill(ids == 0, -100)}


def test_a_collator_summary_read_by_loader_workers_is_what_one_process_reads():
    """Setup reads collated data through the run's loaders, workers included: the chunks come back as
    digests (targets, flags), joined padded with the ignore index, as if read here."""
    from functools import partial

    from torch.utils.data import DataLoader

    from saneloop.data.loaders import Loaders

    data = [{"input_ids": torch.arange(1, n % 7 + 2)} for n in range(300)]
    here = summarize(data, "train", BatchFormat(), collate=_pad_and_label)
    factory = partial(DataLoader, batch_size=8, num_workers=2, collate_fn=_pad_and_label)
    loaders = Loaders(data, data, factory, factory, BatchFormat(), 0)
    read = lambda d, indices, digest: loaders.read(d, indices, digest)
    there = summarize(data, "train", BatchFormat(), read, collate=_pad_and_label)
    assert here.targets.shape == (300, 7) and torch.equal(here.targets, there.targets)
    assert here.input_shapes == there.input_shapes == {(7,)} and here.nonfinite == there.nonfinite == []


def test_a_collator_that_fails_on_some_items_is_named_with_them():
    def fussy(items):
        if any(len(it["input_ids"]) > 3 for it in items):
            raise ValueError("sequence too long for this tokenizer")
        return _pad_and_label(items)

    data = [{"input_ids": torch.arange(1, 3)}] * 100 + [{"input_ids": torch.arange(1, 6)}]
    named = r"collate function .* failed on train items \d+\.\.100: ValueError: sequence too long"
    with pytest.raises(InputError, match=named):
        summarize(data, "train", BatchFormat(), collate=fussy)


class NoBiasLM(nn.Module):
    """A tied head without a bias, small weights: GPT-2's shape."""

    def __init__(self, vocab: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 8)
        nn.init.normal_(self.embed.weight, std=0.02)
        self.head = nn.Linear(8, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, input_ids):
        return self.head(self.embed(input_ids))


def test_a_head_without_a_bias_is_expected_at_log_v_not_at_the_unigram_entropy():
    ids = torch.zeros(8, 6, dtype=torch.long)
    ids[:, ::2] = 1  # a very skewed unigram prior: entropy far below log 16
    batches = [Batch((ids,), {}, ids)]
    task = CharLM(16)
    assert not loss_at_init(NoBiasLM(), task, batches).passed  # expecting the prior's entropy
    verdict = loss_at_init(NoBiasLM(), task, batches, bias_set=False)
    assert verdict.passed and "log 16" in verdict.message


def test_zeroed_embedding_hides_the_ids_but_keeps_the_model_running():
    model = NoBiasLM()
    a, b = torch.tensor([[1, 2, 3]]), torch.tensor([[4, 5, 6]])
    with zeroed_embedding(model):
        assert torch.equal(model(a), model(b))
    assert not torch.equal(model(a), model(b))


class ScoresOnly(nn.Module):
    """The default MLP's shape, returning its logits in a dict under `scores`."""

    def __init__(self, in_features: int, out_features: int, hidden: int = 64, **_) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, out_features)

    def forward(self, x):
        return {"scores": self.head(self.body(x))}


def test_a_run_whose_model_output_has_no_logits_key_is_refused_before_training(tmp_path):
    from saneloop.errors import EXIT_INPUT_ERROR
    from tests.conftest import FAST, run_pipeline

    code, report = run_pipeline(tmp_path, "model._target_=tests.data.test_real_batches.ScoresOnly", *FAST)
    assert code == EXIT_INPUT_ERROR and "model_output.logits_key" in report["error"] and "scores" in report["error"]
    assert [s["name"] for s in report["stages"]] == ["setup"]
    code, report = run_pipeline(
        tmp_path / "keyed",
        "model._target_=tests.data.test_real_batches.ScoresOnly",
        "model_output.logits_key=scores",
        *FAST,
    )
    assert code == 0 and report["metrics"]["accuracy"] > 0.8, report


def test_classify_shows_token_inputs_as_text_when_it_can_decode_them():
    task = Classify(2, class_names=["no", "yes"], decode=lambda ids: "".join("ab"[i] for i in ids))
    view = task.view_batch(torch.tensor([[0, 1], [1, 1]]), torch.tensor([1, 0]))
    assert view.lines == ["yes: ab", "no: bb"]
    assert task.view_predictions(torch.tensor([[0.0, 1.0]]), torch.tensor([1])).labels == ["no", "yes"]


def test_a_required_input_the_batch_lacks_is_refused_naming_it():
    class TwoInputs(nn.Module):
        def forward(self, image, features):
            return image

    batch = Batch((), {"image": torch.zeros(2, 3)}, torch.zeros(2))
    with pytest.raises(InputError, match=r"needs key 'features'"):
        refuse_unfit_batch(TwoInputs(), batch, "m.TwoInputs")


def test_the_transformers_factory_builds_from_a_config_and_names_a_bad_class():
    pytest.importorskip("transformers")
    from saneloop.models.hf import from_config

    model = from_config("GPT2LMHeadModel", vocab_size=12, n_positions=8, n_embd=8, n_layer=1, n_head=2)
    assert model(input_ids=torch.zeros(1, 4, dtype=torch.long)).logits.shape == (1, 4, 12)
    with pytest.raises(InputError, match="not a transformers class"):
        from_config("NoSuchModel")
    unknown = Batch((), {"input_ids": torch.zeros(1, 4, dtype=torch.long), "attention_masks": torch.ones(1, 4)}, None)
    with pytest.raises(InputError, match="'attention_masks'"):  # **kwargs would swallow it without a word
        refuse_unfit_batch(model, unknown, "GPT2LMHeadModel")
