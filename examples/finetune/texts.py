"""Texts in one character vocabulary, for fine-tuning a language model pretrained on another, all offline:
the lines of saneloop's own Python source split in two kinds, its code ("code": docstrings and comments left
out) and its prose ("docstrings": docstrings and comment lines), the whole source ("python"), and the lines of
Tiny Shakespeare (shipped with saneloop). The example pretrains on code and fine-tunes on docstrings, a
transfer (what code taught is clearly better than docstrings' own character frequencies); Shakespeare ->
python is kept as the counter-example that `init_loss` halts (README.md). Items are `{"input_ids": [...]}`;
the Hugging Face collator pads them per batch (conf/recipe/*.yaml). One vocabulary for all: the pretrained
embedding means the same characters in every text (another vocabulary is the classic silent bug of
fine-tuning).
"""

from __future__ import annotations

import ast
import functools
import io
import string
import tokenize
from pathlib import Path

from torch.utils.data import Dataset

from saneloop.datasets.shakespeare import read_text
from saneloop.errors import InputError

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


def _docstring_lines(source: str) -> set[int]:
    """The line numbers (1-based) of the module's, classes' and functions' docstrings."""
    owners = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    lines: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        first = node.body[0] if isinstance(node, owners) and node.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _comment_lines(source: str) -> set[int]:
    """The line numbers of lines that hold only a comment (a comment after code stays with the code)."""
    rows = source.split("\n")
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {t.start[0] for t in tokens if t.type == tokenize.COMMENT and rows[t.start[0] - 1].lstrip().startswith("#")}


def python_part(kind: str) -> str:
    """saneloop's Python source, in a fixed order: its "docstrings" (docstrings and comment lines) or its
    "code" (every other line)."""
    return _python_parts()[kind == "docstrings"]


@functools.lru_cache(maxsize=1)
def _python_parts() -> tuple[str, str]:
    """(code, docstrings) of saneloop's source, parsed once per process (a pretraining and a fine-tuning run
    in one process read both)."""
    parts: tuple[list[str], list[str]] = ([], [])
    for path in sorted(SOURCE.rglob("*.py")):
        source = path.read_text().replace("\t", "    ")
        prose = _docstring_lines(source) | _comment_lines(source)
        for i, row in enumerate(source.split("\n"), 1):
            parts[i in prose].append(row)
    return "\n".join(parts[0]), "\n".join(parts[1])


def read(text: str) -> str:
    """The raw text named `text`: shakespeare, python, code or docstrings."""
    if text == "shakespeare":
        return read_text()
    if text == "python":
        return python_source()
    if text in ("code", "docstrings"):
        return python_part(text)
    raise InputError(f"data.text={text!r}: not a text of this example; choose shakespeare, python, code or docstrings")


def text_lines(
    text: str = "shakespeare", max_chars: int = 64, min_chars: int = 2, test_fraction: float = 0.1, limit: int = 0
) -> tuple[Lines, Lines]:
    """Every line of `text` (`read`) as ids of CHARS, cut to `max_chars`, between newlines; the last
    `test_fraction` of the lines is the test set. `limit` > 0: only the first lines."""
    raw = read(text)
    index = {c: i for i, c in enumerate(CHARS)}
    lines = ["\n" + line.strip()[: max_chars - 2] + "\n" for line in raw.split("\n") if len(line.strip()) >= min_chars]
    lines = list(dict.fromkeys(lines))  # each line once (code repeats imports, plays repeat speakers' names),
    # or test lines are training's and split_overlap halts
    lines = lines[:limit] if limit > 0 else lines
    items = [{"input_ids": [index.get(c, index["?"]) for c in line]} for line in lines]
    cut = int(len(items) * (1 - test_fraction))
    return Lines(items[:cut]), Lines(items[cut:])
