"""Setup's look at the data, in time and memory that do not grow with the dataset.

`first_look` gets every target: from the tensors of a `TensorDataset` (which it checks whole,
vectorised), from targets the dataset stores (`targets.stored_targets`, spot-checked against a few
items), or else from one pass over every item through the loader's workers. `sampled` then reads a
random sample of the items whose inputs were not all checked (the `inputs_finite` gate states
the guarantee that gives); the first epoch of `train` checks every training item as it goes by (gate
`full_pass`).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.utils.data import Dataset, TensorDataset

from ..errors import InputError
from .loaders import Loaders
from .padding import IGNORE_INDEX
from .streams import Stream, generator
from .summary import ChunkDigest, DatasetSummary, Digest, finite_rows, length_of, read_digests, summarize
from .targets import SPOT_CHECKS, disagreements, stored_targets

_LISTED = 8


def first_look(loaders: Loaders, split: str, sample: int, seed: int, pad_value: int = IGNORE_INDEX) -> DatasetSummary:
    """Every target of the split, and every item checked where that costs nothing more (a TensorDataset,
    or a dataset whose targets can only be read from its items). Stored targets are compared with the
    first few items of the random sample (`sample` items from `seed`) that `sampled` reads. With a
    collate of the run's (a padding collator, one that makes the labels), every item is read as it
    collates them: the items are not yet what the model gets. `pad_value` pads token labels."""
    dataset, test = _dataset(loaders, split)
    length = length_of(dataset, split)
    read = lambda d, indices, digest: loaders.read(d, indices, digest, test)
    if isinstance(dataset, TensorDataset) and len(dataset.tensors) >= 2:
        return summarize(dataset, split, loaders.fmt, read)
    collate = loaders.test_collate if test else loaders.train_collate
    if collate is not None:
        summary = summarize(dataset, split, loaders.fmt, read, collate, pad_value)
        summary.targets_from = "the items, every one read once through the run's collate"
        return summary
    stored = stored_targets(dataset)
    why = ""
    if stored is not None:
        targets, source = stored
        spots = sorted(sample_indices(length, sample, seed)[:SPOT_CHECKS])
        digests = read_digests(dataset, spots, Digest(loaders.fmt, split), read)
        differ = _disagreeing(targets, digests)
        if not differ:
            bad_targets = (~finite_rows(targets)).nonzero().flatten().tolist()  # every target, vectorised
            return _merged(DatasetSummary(length, targets, bad_targets, set(), 0, source), digests)
        if 2 * len(differ) <= len(spots):  # a few out of step: a list reordered apart from the items
            raise _out_of_step(source, split, differ, len(spots))
        why = f" ({source} disagrees with the items' own targets at {split} indices {differ[:_LISTED]}"
        why += ": a target_transform?)"
    summary = summarize(dataset, split, loaders.fmt, read, pad_value=pad_value)
    summary.targets_from = f"the items, every one read once{why}"
    return summary


def sampled(loaders: Loaders, split: str, summary: DatasetSummary, count: int, seed: int) -> DatasetSummary:
    """`summary` with `count` more random items of the split checked (all of them if there are fewer)."""
    if summary.complete:
        return summary
    dataset, test = _dataset(loaders, split)
    seen = set(summary.sampled)
    picks = sorted(i for i in sample_indices(summary.length, count, seed) if i not in seen)
    read = lambda d, indices, digest: loaders.read(d, indices, digest, test)
    digests = read_digests(dataset, picks, Digest(loaders.fmt, split), read)
    differ = _disagreeing(summary.targets, digests)
    if differ:
        raise _out_of_step(summary.targets_from, split, differ, len(picks))
    return _merged(summary, digests)


def _out_of_step(source: str, split: str, differ: list[int], read: int) -> InputError:
    """Stored targets that disagree with a few of the items (most disagreeing is a target_transform: the
    items are read instead)."""
    return InputError(
        f"{source} disagrees with what the {split} items return as their target at "
        f"indices {differ[:_LISTED]} ({len(differ)} of {read} sampled items): the stored "
        "targets are out of step with the items (a list reordered or filtered apart from the "
        "samples?). Make `targets` match `dataset[i]`, or drop the attribute so the targets are "
        "read from the items"
    )


def sample_indices(length: int, count: int, seed: int) -> list[int]:
    """`count` distinct random indices of range(length), in random order (every index when count >=
    length), from the run `seed`'s survey stream. Memory stays O(count) however long the dataset."""
    gen = generator(seed, Stream.SURVEY_SAMPLE)
    if length <= 16 * count:
        return torch.randperm(length, generator=gen)[:count].tolist()
    found: dict[int, None] = {}  # insertion-ordered: the order of the draws
    while len(found) < count:
        for i in torch.randint(length, (2 * (count - len(found)),), generator=gen).tolist():
            found.setdefault(i)
    return list(found)[:count]


def _dataset(loaders: Loaders, split: str) -> tuple[Dataset, bool]:
    """The split's dataset, and whether it is read as an evaluation split (val, test) is."""
    return loaders.dataset(split), split != "train"


def _disagreeing(stored: torch.Tensor, digests: list[ChunkDigest]) -> list[int]:
    found = []
    for d in digests:
        if d.targets is not None:
            found += disagreements(stored, d.indices, list(d.targets))
    return found


def _merged(summary: DatasetSummary, digests: list[ChunkDigest]) -> DatasetSummary:
    seen = sorted(set(summary.sampled).union(i for d in digests for i in d.indices))
    nonfinite = sorted(set(summary.nonfinite).union(i for d in digests for i in d.nonfinite))
    shapes = set(summary.input_shapes).union(*(d.shapes for d in digests))
    return replace(summary, nonfinite=nonfinite, input_shapes=shapes, checked=len(seen), sampled=seen)
