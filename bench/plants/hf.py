"""Planted bugs in Hugging Face training code: padding collators and models that misuse the mask.

The collators wrap transformers' own (the examples' tokenizers, examples/hf_*); the models subclass
transformers' BERT classifier as a user's wrapper would. Needs the `hf` extra.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import BertForSequenceClassification, DataCollatorForLanguageModeling, GPT2LMHeadModel


class UnmaskedLabelsCollator(DataCollatorForLanguageModeling):
    """Bug: labels copied from the padded input_ids, so padding is labelled with the pad id (not -100)."""

    def __call__(self, features, return_tensors=None):
        batch = super().__call__(features, return_tensors)
        batch["labels"] = batch["input_ids"].clone()
        return batch


class PreShiftedLabelsCollator(DataCollatorForLanguageModeling):
    """Bug: labels shifted by one in the data (label[t] = input[t+1]), for a model that shifts them again."""

    def __call__(self, features, return_tensors=None):
        batch = super().__call__(features, return_tensors)
        labels = torch.full_like(batch["labels"], -100)
        labels[:, :-1] = batch["labels"][:, 1:]
        batch["labels"] = labels
        return batch


def unmasked_labels_collator(tokenizer, mlm: bool = False) -> UnmaskedLabelsCollator:
    return UnmaskedLabelsCollator(tokenizer, mlm=mlm)


def pre_shifted_labels_collator(tokenizer, mlm: bool = False) -> PreShiftedLabelsCollator:
    return PreShiftedLabelsCollator(tokenizer, mlm=mlm)


class SummedLossGPT2(GPT2LMHeadModel):
    """Bug: the language-model loss summed over tokens instead of averaged (it scales with each batch's token
    count, so the learning rate means something else for every batch)."""

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        out = super().forward(input_ids=input_ids, attention_mask=attention_mask, labels=labels, **kwargs)
        if labels is not None:
            logits, targets = out.logits[:, :-1], labels[:, 1:]
            out.loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
        return out


class MaskIgnoredBert(BertForSequenceClassification):
    """Bug: a wrapper's forward takes the attention mask and never passes it on."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        return super().forward(input_ids=input_ids, token_type_ids=token_type_ids, labels=labels, **kwargs)


class FirstMaskBert(BertForSequenceClassification):
    """Bug: the mask built from the first sample is applied to every sample of the batch."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        shared = attention_mask[:1].expand_as(attention_mask)
        return super().forward(
            input_ids=input_ids, attention_mask=shared, token_type_ids=token_type_ids, labels=labels, **kwargs
        )


class MisroutedBert(BertForSequenceClassification):
    """Bug: positional arguments in the wrong order, so token_type_ids (all 0) arrive as the attention mask
    (BertForSequenceClassification.forward(input_ids, attention_mask, token_type_ids, ...))."""

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None, **kwargs):
        return super().forward(input_ids, token_type_ids, attention_mask, labels=labels, **kwargs)


def label_token(words: int = 1024, **kwargs):
    """Bug: the speaker written into each text as one word at its end (a tag left in the data), so at a
    different position in every padded item: `target_leak`, which scores fixed positions, cannot see it.
    The words are the vocabulary's rarest (ids words - 1 - label); wraps examples/hf_speakers' data."""
    from speakers import Lines, speaker_lines  # the example's module (its folder is on sys.path)

    def tagged(item: dict) -> dict:
        extra = {"input_ids": words - 1 - item["labels"], "token_type_ids": 0, "attention_mask": 1}
        return {**item, **{key: [*item[key], value] for key, value in extra.items() if key in item}}

    return tuple(Lines([tagged(item) for item in split.items]) for split in speaker_lines(words=words, **kwargs))


class NextTokenLeakGPT2(GPT2LMHeadModel):
    """Bug: a causal leak: each position's input embedding also holds the next token's (a shift written the
    wrong way round when building the inputs), so the model reads the token it is asked to predict."""

    def forward(self, input_ids=None, attention_mask=None, labels=None, **kwargs):
        wte = self.transformer.wte
        ahead = torch.roll(input_ids, shifts=-1, dims=1)
        embeds = wte(input_ids) + wte(ahead)
        return super().forward(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels, **kwargs)


def lines_ending_in_eos(max_chars: int = 64, test_fraction: float = 0.1, vocab: str = ""):
    """Bug (transformers#23530, trl#976): every line ends in the end-of-sequence token, and the tokenizer's
    pad token is that same token (examples/hf_gpt2: eos_token_id = pad_token_id = 0), so the language-model
    collator sets every real EOS label to -100 along with the padding: the model never learns to stop."""
    from lm_lines import CHARS, Lines, play_lines  # examples/hf_gpt2, on the path as the bench runs it

    eos = 0
    train, test = play_lines(max_chars=max_chars - 1, test_fraction=test_fraction, vocab=vocab or CHARS)
    return tuple(Lines([{"input_ids": [*item["input_ids"], eos]} for item in s.items]) for s in (train, test))
