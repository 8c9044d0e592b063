"""The zoo's text from real sources (issue 22 item 9): text that repeats itself as real corpora do.

Python source lines and docstrings of the standard library installed with this Python (read from disk,
nothing downloaded), split by file: boilerplate lines (`return None`, `import os`) and shared docstrings
fall on both sides of the split, as they do in any code corpus. Random windows of Tiny Shakespeare, the
test windows drawn with replacement (some share a start). Lines of the play padded to a fixed length,
right or left, for the Hugging Face GPT-2 (examples/hf_gpt2). Every item is correct data: the
duplication is the data's, not a split bug.
"""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from saneloop.datasets.shakespeare import VOCAB, encode, read_text

PACKAGES = ("json", "email", "logging", "unittest", "http", "xml", "importlib", "concurrent")
MIN_CHARS = 8  # lines shorter than this (blank, a lone `)`) are not items


def source_files(packages: tuple[str, ...] = PACKAGES) -> list[Path]:
    """The .py files of some standard-library packages, in a fixed order (tests and caches excluded)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = [p for name in packages for p in sorted((root / name).rglob("*.py")) if "test" not in p.parts]
    return [p for p in files if "__pycache__" not in p.parts]


def _ascii_ids(text: str, length: int) -> list[int]:
    """`text` cut or right-padded with spaces to `length` characters, as ASCII codes (others become '?')."""
    text = text[:length].ljust(length)
    return [ord(c) if ord(c) < 128 else ord("?") for c in text]


def _items(texts: list[str], block_size: int) -> TensorDataset:
    """Each text as one fixed-length item: (its first block_size codes, the same shifted by one)."""
    rows = torch.tensor([_ascii_ids(t, block_size + 1) for t in texts], dtype=torch.long)
    return TensorDataset(rows[:, :-1], rows[:, 1:])


def _by_file(per_file: list[list[str]], block_size: int, test_fraction: float):
    """Train on the texts of the first files, test on the last files' (a split by file, as code corpora do)."""
    cut = int(len(per_file) * (1 - test_fraction))
    train = [t for texts in per_file[:cut] for t in texts]
    test = [t for texts in per_file[cut:] for t in texts]
    return _items(train, block_size), _items(test, block_size)


def source_lines(block_size: int = 48, test_fraction: float = 0.15, split_seed: int = 0):
    """Every line of the sources (indentation kept, at least MIN_CHARS characters), cut or padded to a fixed
    length: a character language model's items, with the repeats code has."""
    del split_seed  # the split is the files' order
    per_file = [
        [line for line in p.read_text(errors="replace").splitlines() if len(line.strip()) >= MIN_CHARS]
        for p in source_files()
    ]
    return _by_file(per_file, block_size, test_fraction)


def _docstrings(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return []
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef))]
    found = [ast.get_docstring(n) for n in nodes]
    return [" ".join(d.split()) for d in found if d and len(d) >= MIN_CHARS]


def docstrings(block_size: int = 48, test_fraction: float = 0.15, split_seed: int = 0):
    """The docstrings of the sources (whitespace collapsed), each cut or padded to a fixed length: many
    begin alike ("Return the ...") and some are shared word for word."""
    del split_seed
    return _by_file([_docstrings(p) for p in source_files()], block_size, test_fraction)


def random_windows(
    block_size: int = 32, train_windows: int = 8000, test_windows: int = 1000, test_fraction: float = 0.1, seed=0
):
    """Windows of Tiny Shakespeare at random starts (with replacement): training's from the first 90% of the
    text, test's from the last 10%, so no window crosses the cut; some test windows share a start."""
    tokens = encode(read_text(), VOCAB)
    cut = int(len(tokens) * (1 - test_fraction))
    g = torch.Generator().manual_seed(seed)

    def draw(part: torch.Tensor, n: int) -> TensorDataset:
        starts = torch.randint(0, len(part) - block_size - 1, (n,), generator=g)
        index = starts[:, None] + torch.arange(block_size)
        return TensorDataset(part[index], part[index + 1])

    return draw(tokens[:cut], train_windows), draw(tokens[cut:], test_windows)


def padded_lines(max_chars: int = 64, padding: str = "right", test_fraction: float = 0.1, vocab: str = ""):
    """The play's lines for examples/hf_gpt2, each padded to `max_chars` tokens (id 0) with its attention mask,
    as `tokenizer(..., padding="max_length")` writes them: `padding` right, or left (generation's side).
    Every item carries padding; the collator then has nothing to pad and masks the pad ids in the labels."""
    from lm_lines import CHARS, Lines, play_lines  # examples/hf_gpt2, on the path as the bench runs it

    if padding not in ("right", "left"):
        raise ValueError(f"data.padding must be right or left, got {padding!r}")
    train, test = play_lines(max_chars=max_chars, test_fraction=test_fraction, vocab=vocab or CHARS)
    return Lines([_pad(i, max_chars, padding) for i in train.items]), Lines(
        [_pad(i, max_chars, padding) for i in test.items]
    )


def _pad(item: dict, length: int, side: str) -> dict:
    ids = item["input_ids"][:length]
    fill = [0] * (length - len(ids))
    mask = [1] * len(ids)
    if side == "right":
        return {"input_ids": ids + fill, "attention_mask": mask + fill}
    return {"input_ids": fill + ids, "attention_mask": fill + mask}
