"""A user's language-model data: the lines of the play, one item each (with the newlines around it),
of any length (Tiny Shakespeare, shipped offline), as character ids. Items are `{"input_ids": [...]}`
only: the Hugging Face collator (`DataCollatorForLanguageModeling(mlm=False)`, conf/recipe/hf_gpt2.yaml)
pads each batch to its longest line, writes the attention mask, and makes `labels` = `input_ids` with
-100 at padding; GPT-2 shifts them inside (task.shift_labels=true).
"""

from __future__ import annotations

import functools

from torch.utils.data import Dataset

from saneloop.datasets.shakespeare import VOCAB, read_text

PAD = "·"  # id 0, shown as this in batch views; not a character of the text
CHARS = PAD + VOCAB  # token id i stands for CHARS[i]


class Lines(Dataset):
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


@functools.lru_cache(maxsize=4)
def tokenizer(vocab: str = CHARS):
    """A character-level Hugging Face tokenizer over `vocab` (id 0: padding), built in memory; the
    collator pads with it."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    ids = {("[PAD]" if i == 0 else c): i for i, c in enumerate(vocab)}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(ids, unk_token="[PAD]")), pad_token="[PAD]"
    )


def play_lines(
    max_chars: int = 64, min_chars: int = 2, test_fraction: float = 0.1, vocab: str = CHARS
) -> tuple[Lines, Lines]:
    """Every line of the text (speaker names included) as ids of `vocab`, cut to `max_chars`, between the
    newlines around it (so its first character is predicted too); the last lines are the test set."""
    index = {c: i for i, c in enumerate(vocab)}
    lines = ["\n" + line[: max_chars - 2] + "\n" for line in read_text().split("\n") if len(line) >= min_chars]
    items = [{"input_ids": [index[c] for c in line]} for line in lines]
    cut = int(len(items) * (1 - test_fraction))
    return Lines(items[:cut]), Lines(items[cut:])
