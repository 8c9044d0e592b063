"""Every seeded random stream of a run, in one place: what draws from it, and its generator.

Each purpose draws from its own generator, seeded `seed + stream`, made fresh where it is used: a
gate turned off draws nothing, and no other purpose's draws move. So the trained model does not
depend on which gates ran (tests/test_streams.py checks both: distinct values, identical weights).

Outside this enum are the global generators (torch, NumPy, `random`), which `seeding.seed_everything`
seeds with the run's seed itself before each model is built or trained: the model's init, Dropout,
augmentation. The train stage seeds them with `seed + process index` (Accelerate's convention), so
process k >= 1 shares a seed with stream k here: the same numbers feed unrelated consumers (an index
order, Dropout masks), which correlates nothing a gate or the run compares.

One stream is seeded apart from the run: VAL_SPLIT takes `validation.seed` (like the data's own
`split_seed`), so every run of a sweep, whatever its seed, decides on the same validation items.

Add a purpose with a new value (never reuse one: results tuned on a value move with it).
"""

from __future__ import annotations

from enum import IntEnum, unique

import torch


@unique
class Stream(IntEnum):
    """Offsets from the run's seed, one per purpose."""

    TRAIN_ORDER = 0  # the training loader: train's data order and worker seeds (determinism, label_noise's folds too)
    PROBE = 1  # Loaders.probe: the gates' shuffled training batches (sanity, input_independent, loss_decreases)
    FIXED_BATCH = 2  # Loaders.fixed_batch: the training examples the overfit gate memorises
    HELD_OUT = 3  # baselines: the order input_independent (and too_good) reads the validation set in
    LABEL_NOISE_FOLDS = 4  # label_noise: which training items fall in which of the two folds
    SURVEY_SAMPLE = 5  # setup's sample of items per split: inputs_finite's checks, stored targets' spot checks
    TEST_LOADER = 6  # Loaders.test: the test loader's worker seeds (and its order, if loader.test shuffles)
    SPLIT_SAMPLE_TRAIN = 7  # the training items the split gates read, where there are too many to read all
    SPLIT_SAMPLE_TEST = 8  # the test items the split gates read, likewise
    VAL_SPLIT = 9  # which training items become the validation set (seeded by validation.seed, see below)
    VAL_LOADER = 10  # Loaders.val: the validation loader's worker seeds (and its order, if loader.test shuffles)
    SPLIT_SAMPLE_VAL = 11  # the validation items the split gates read, where there are too many to read all
    CURVE_ITEMS = 12  # the validation items the loss curve evaluates during train (train.curve_items)


def generator(seed: int, stream: Stream) -> torch.Generator:
    """A fresh CPU generator for `stream` of the run seeded `seed`: it touches no global stream and no
    other purpose's."""
    return torch.Generator().manual_seed(seed + int(stream))
