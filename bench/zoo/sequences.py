"""The zoo's generated sequences, token sequences and images, and Tiny Shakespeare in other vocabularies.

Sequences are [T, C] per item (batch-first once collated, as a DataLoader stacks them); a model that
runs time-major transposes them itself. Token sequences are [T] ids. Images are [C, H, W].
"""

from __future__ import annotations

import numpy as np
import torch

from saneloop.datasets.shakespeare import read_text, windows

from .data import _rng, _split


def waves(
    n: int = 3000,
    length: int = 24,
    channels: int = 3,
    classes: int = 4,
    noise: float = 0.8,
    test_size: int = 600,
    split_seed: int = 0,
):
    """Classify which of `classes` frequencies a noisy sine on channel 0 has (random phase; the other
    channels are noise)."""
    rng = _rng(split_seed)
    y = rng.integers(0, classes, n)
    t = np.arange(length)
    freq = 0.15 + 0.25 * y / max(classes - 1, 1)
    phase = rng.uniform(0, 2 * np.pi, n)
    x = rng.normal(0, noise, (n, length, channels))
    x[:, :, 0] += np.sin(2 * np.pi * freq[:, None] * t[None, :] / 2 + phase[:, None])
    return _split(x, y, test_size, split_seed, standardise=False)


def running_sum(
    n: int = 3000, length: int = 16, channels: int = 2, test_size: int = 600, split_seed: int = 0, binary: bool = False
):
    """Regress the sum of channel 0 over time (raw units: mean 0, variance = length); `binary`: is it > 0?"""
    rng = _rng(split_seed)
    x = rng.normal(0, 1, (n, length, channels))
    total = x[:, :, 0].sum(1)
    y = (total > 0).astype(np.float32) if binary else total.astype(np.float32)
    return _split(x, y, test_size, split_seed, standardise=False)


def majority_token(
    n: int = 4000,
    length: int = 16,
    vocab: int = 12,
    classes: int = 4,
    share: float = 0.3,
    test_size: int = 800,
    split_seed: int = 0,
):
    """Token sequences: class c's token (id c) fills a `share` of the positions, the others are uniform."""
    rng = _rng(split_seed)
    y = rng.integers(0, classes, n)
    tokens = rng.integers(0, vocab, (n, length))
    planted = rng.random((n, length)) < share
    tokens[planted] = np.broadcast_to(y[:, None], (n, length))[planted]
    return _split(tokens, y, test_size, split_seed, standardise=False)


def bars(
    n: int = 2000, size: int = 12, classes: int = 4, noise: float = 0.5, test_size: int = 400, split_seed: int = 0
):
    """RGB images [3, size, size]: a bar whose orientation is the class, at a random place and in a random colour."""
    rng = _rng(split_seed)
    y = rng.integers(0, classes, n)
    images = rng.normal(0, noise, (n, 3, size, size))
    coords = np.arange(-2, 3)
    for i in range(n):
        cy, cx = rng.integers(3, size - 3, 2)
        dy, dx = [(0, 1), (1, 0), (1, 1), (1, -1)][y[i] % 4]
        colour = rng.random(3) + 0.5
        images[i, :, cy + dy * coords, cx + dx * coords] += colour[None, :]
    return _split(images, y, test_size, split_seed, standardise=False)


def shakespeare(
    codes: int = 256,
    block_size: int = 32,
    train_chars: int = 300_000,
    test_chars: int = 40_000,
    lowercase: bool = False,
    split_seed: int = 0,
):
    """Tiny Shakespeare as byte ids (`codes` 128 or 256: ASCII codes, most of which never occur), or
    `lowercase` letters, space and newline (27 letters + 1: ids 0..27), in windows of `block_size`.

    Train on the first `train_chars` characters, test on the last `test_chars` (no window crosses)."""
    del split_seed  # the split is the text's order
    text = read_text()
    if lowercase:
        letters = "\n abcdefghijklmnopqrstuvwxyz"
        index = {c: i for i, c in enumerate(letters)}
        ids = [index.get(c, 1) for c in text.lower()]  # anything else becomes a space
    else:
        ids = [ord(c) for c in text]
        if max(ids) >= codes:
            raise ValueError(f"the text holds code {max(ids)}, outside data.codes={codes}")
    tokens = torch.tensor(ids, dtype=torch.long)
    return windows(tokens[:train_chars], block_size), windows(tokens[-test_chars:], block_size)


def shakespeare_prefix(train_chars: int = 40_000, block_size: int = 32, test_chars: int = 40_000, split_seed: int = 0):
    """The default 65-character vocabulary, trained on only the first `train_chars` characters: some
    characters of the vocabulary ('$', '3', 'Z', ...) never occur in training but occur in the test text."""
    from saneloop.datasets.shakespeare import VOCAB, encode

    del split_seed
    tokens = encode(read_text(), VOCAB)
    return windows(tokens[:train_chars], block_size), windows(tokens[-test_chars:], block_size)
