"""A user's text-classification data: who says these lines of the play (Tiny Shakespeare, shipped offline).

Each item is two lines of a speech, tokenized by a word-level Hugging Face tokenizer built here in
memory (no download): `{"input_ids", "token_type_ids", "attention_mask", "labels"}`, of varying length.
`transformers.DataCollatorWithPadding` pads each batch to its longest item (conf/recipe/hf_speakers.yaml).
"""

from __future__ import annotations

import functools
import random
from collections import Counter

from torch.utils.data import Dataset

from saneloop.datasets.shakespeare import read_text

SPEAKERS = ("ROMEO", "MENENIUS", "PETRUCHIO")  # three plays' leads: 1033 items of two lines
SPECIAL = ("[PAD]", "[UNK]", "[CLS]")


class Lines(Dataset):
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def lines_of(speakers: tuple[str, ...], per_item: int = 2) -> list[tuple[str, int]]:
    """(text, speaker index): each speech of one of `speakers`, cut into pieces of `per_item` lines."""
    found = []
    for block in read_text().split("\n\n"):
        head, _, body = block.partition("\n")
        name = head.rstrip(":")
        if head.endswith(":") and name in speakers:
            lines = [line for line in body.split("\n") if line.strip()]
            found += [(" ".join(lines[k : k + per_item]), speakers.index(name)) for k in range(0, len(lines), per_item)]
    return found


@functools.lru_cache(maxsize=4)
def tokenizer(vocab_size: int = 1024):
    """A word-level tokenizer over the play's `vocab_size - 3` commonest lowercased words, [CLS] first."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    splitter = pre_tokenizers.Whitespace()
    words = Counter(w for w, _ in splitter.pre_tokenize_str(read_text().lower()))
    vocab = {token: i for i, token in enumerate([*SPECIAL, *(w for w, _ in words.most_common(vocab_size - 3))])}
    inner = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    inner.normalizer, inner.pre_tokenizer = normalizers.Lowercase(), splitter
    inner.post_processor = processors.TemplateProcessing(single="[CLS] $A", special_tokens=[("[CLS]", 2)])
    return PreTrainedTokenizerFast(tokenizer_object=inner, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]")


def speaker_lines(
    speakers: tuple[str, ...] = SPEAKERS,
    words: int = 1024,
    max_length: int = 48,
    lines_per_item: int = 2,
    test_fraction: float = 0.2,
    split_seed: int = 0,
) -> tuple[Lines, Lines]:
    """Items shuffled once by `split_seed` and split; labels are speaker indices."""
    found = lines_of(tuple(speakers), lines_per_item)
    random.Random(split_seed).shuffle(found)
    encode = tokenizer(words)
    items = [
        {**encode(line, truncation=True, max_length=max_length, return_token_type_ids=True), "labels": who}
        for line, who in found
    ]
    cut = int(len(items) * (1 - test_fraction))
    return Lines(items[:cut]), Lines(items[cut:])


def decode(ids: list[int], words: int = 1024) -> str:
    """Text of token ids as the model reads them: padding and [CLS] left out, unknown words as [UNK]."""
    tokens = tokenizer(words).convert_ids_to_tokens(ids)
    return " ".join(t for t in tokens if t not in ("[PAD]", "[CLS]"))
