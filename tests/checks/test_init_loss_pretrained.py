"""init_loss on a model whose final layer is pretrained (issue 20): clearly below the prior's loss passes; at
the prior's (weights not loaded) or far above it (another vocabulary, labels in another order) halts."""

from __future__ import annotations

import math

import pytest
import torch

from saneloop.checks import loss_at_init
from saneloop.checks.init_loss import InitLossSettings
from saneloop.checks.init_loss_judges import judge_pretrained
from saneloop.models.pretraining import known_pretraining
from saneloop.tasks import CharLM

SOURCE = "declared: model_pretrained=true"


def _judge(loss: float, prior: float = math.log(10), se: float = 0.01):
    return judge_pretrained("init_loss", loss, se, prior, "entropy of the prior", InitLossSettings(), SOURCE)


def test_unit_below_the_prior_passes_at_it_or_above_it_halts_naming_the_causes():
    assert _judge(0.26).passed  # issue 20: the continued-training classifier, 0.26 against 2.30
    at_prior = _judge(2.29)
    assert not at_prior.passed and "not loaded or not used" in at_prior.message
    above = _judge(5.2)
    assert not above.passed and "confidently wrong" in above.message
    assert "id2label" in above.message and "vocabulary" in above.message and "preprocessed" in above.message
    assert not _judge(float("nan")).passed


def _chain(vocab: int, items: int, length: int, seed: int, relabel: torch.Tensor | None = None):
    """Token windows of a Markov chain (next = 3t+1 mod V, 80% of the time), batches of (inputs, next tokens);
    `relabel` maps each token id to another: the same text in another vocabulary."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.zeros(items, length + 1, dtype=torch.long)
    tokens[:, 0] = torch.randint(0, vocab, (items,), generator=gen)
    for t in range(length):
        jump = torch.rand(items, generator=gen) < 0.2
        tokens[:, t + 1] = torch.where(
            jump, torch.randint(0, vocab, (items,), generator=gen), (3 * tokens[:, t] + 1) % vocab
        )
    tokens = tokens if relabel is None else relabel[tokens]
    return [(tokens[i : i + 16, :-1], tokens[i : i + 16, 1:]) for i in range(0, items, 16)]


@pytest.fixture(scope="module")
def gpt2(tmp_path_factory):
    """A tiny GPT-2 pretrained on the chain, saved with save_pretrained and loaded with from_pretrained, as a
    user's own model factory does (nothing in saneloop's config says it is pretrained)."""
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=16, n_positions=32, n_embd=32, n_layer=1, n_head=2, bos_token_id=0, eos_token_id=0
        )
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for x, y in _chain(16, 640, 24, seed=1):  # 40 steps: loss 1.26 against the prior's 2.77
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x).logits.transpose(1, 2), y).backward()
        optimizer.step()
    folder = tmp_path_factory.mktemp("gpt2")
    model.save_pretrained(folder)
    return transformers.GPT2LMHeadModel.from_pretrained(folder)


def test_a_gpt2_from_pretrained_in_the_users_code_is_known_and_passes_on_its_vocabulary(gpt2):
    found = known_pretraining(gpt2, 16, None, None, None)
    assert found is not None and found.head and "from_pretrained(" in found.source  # a tied head: pretrained too
    verdict = loss_at_init(gpt2, CharLM(16), _chain(16, 128, 24, seed=2), pretrained=found.source)
    assert verdict.passed, verdict.message


def test_the_same_text_in_another_vocabulary_halts_at_init_loss_naming_it(gpt2):
    """Issue 20: loss at init at or above the prior's, exactly as if never pretrained; it passed every gate."""
    relabel = torch.randperm(16, generator=torch.Generator().manual_seed(3))
    found = known_pretraining(gpt2, 16, None, None, None)
    verdict = loss_at_init(gpt2, CharLM(16), _chain(16, 128, 24, seed=2, relabel=relabel), pretrained=found.source)
    assert not verdict.passed and "another tokenizer or vocabulary than pretraining's" in verdict.message


def test_declared_false_is_never_taken_as_pretrained(gpt2):
    assert known_pretraining(gpt2, 16, None, None, False) is None
