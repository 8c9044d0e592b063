"""Two texts in one character vocabulary, for fine-tuning a language model pretrained on the other: the
lines of Tiny Shakespeare (shipped with saneloop) and the lines of saneloop's own Python source (code,
docstrings and comments), both offline. Items are `{"input_ids": [...]}`; the Hugging Face collator pads
them per batch (conf/recipe/*.yaml). One vocabulary for both: the pretrained embedding means the same
characters in either text (another vocabulary is the classic silent bug of fine-tuning).
"""

from __future__ import annotations

import string
from pathlib import Path

from torch.utils.data import Dataset

from saneloop.datasets.shakespeare import read_text

PAD = "·"  # id 0: padding, never a character of either text
CHARS = PAD + "\n" + "".join(c for c in string.printable if c not in "\n\r\t\x0b\x0c")  # 97 ids
SOURCE = Path(__file__).resolve().parents[2] / "saneloop"  # the package's own code: the fine-tuning text


class Lines(Dataset):
    def __init__(self, items: list[dict]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[index]


def tokenizer(vocab: str = CHARS):
    """A character-level Hugging Face tokenizer over `vocab` (id 0: padding); the collator pads with it."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    ids = {("[PAD]" if i == 0 else c): i for i, c in enumerate(vocab)}
    return PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(ids, unk_token="[PAD]")), pad_token="[PAD]"
    )


def python_source() -> str:
    """saneloop's Python files, in a fixed order, tabs as spaces."""
    return "\n".join(p.read_text().replace("\t", "    ") for p in sorted(SOURCE.rglob("*.py")))


def text_lines(
    text: str = "shakespeare", max_chars: int = 64, min_chars: int = 2, test_fraction: float = 0.1, limit: int = 0
) -> tuple[Lines, Lines]:
    """Every line of `text` ("shakespeare" or "python") as ids of CHARS, cut to `max_chars`, between
    newlines; the last `test_fraction` of the lines is the test set. `limit` > 0: only the first lines."""
    raw = read_text() if text == "shakespeare" else python_source()
    index = {c: i for i, c in enumerate(CHARS)}
    lines = ["\n" + line.strip()[: max_chars - 2] + "\n" for line in raw.split("\n") if len(line.strip()) >= min_chars]
    lines = list(dict.fromkeys(lines))  # each line once (code repeats imports, plays repeat speakers' names),
    # or test lines are training's and split_overlap halts
    lines = lines[:limit] if limit > 0 else lines
    items = [{"input_ids": [index.get(c, index["?"]) for c in line]} for line in lines]
    cut = int(len(items) * (1 - test_fraction))
    return Lines(items[:cut]), Lines(items[cut:])
