"""Setup's first look at every split, and the validation set: the data's own, or carved from training.

The carving (`validation.*`) works on the training targets the first look has read, so it reads no
item twice; it comes after setup's data gates (which name items as the user numbers them) and
replaces the loaders' training set with what is left of it.
"""

from __future__ import annotations

import json

from ..data import survey
from ..data.loaders import Loaders
from ..data.summary import DatasetSummary
from ..data.validation import carve, class_labels, part, part_summary, refuse_too_few
from ..record.report import write_atomic
from .context import RunContext

SPLIT_FILE = "validation_split.json"  # the training set's item numbers in each part: {"train": [...], "val": [...]}


def first_looks(ctx: RunContext, loaders: Loaders, sample: int, pad: int) -> dict[str, DatasetSummary]:
    """Every target of each split the data gave: "train", "val" (when the data has its own), "test"."""
    splits = ("train", "test") if loaders.val_set is None else ("train", "val", "test")
    summaries = {split: survey.first_look(loaders, split, sample, ctx.seed, pad) for split in splits}
    if "val" in summaries:
        target = ctx.settings.config.data.get("_target_")
        refuse_too_few(summaries["val"].length, f"the validation set data._target_={target} returned has")
        ctx.record.note(f"validation: the data's own validation set, {summaries['val'].length:,} items")
    return summaries


def carved(ctx: RunContext, loaders: Loaders, summaries: dict[str, DatasetSummary]) -> dict[str, DatasetSummary]:
    """The summaries with a validation set: the data's own, or carved from the training set now, after the
    data gates (so they name items as the user's training set numbers them), by `validation.fraction`,
    seeded by `validation.seed`. The carving's item numbers go to validation_split.json."""
    if "val" in summaries:
        return summaries
    train, settings = summaries["train"], ctx.settings.validation
    kept, held = carve(train.targets, settings.fraction, settings.seed, settings.min_items)
    loaders.carved(part(loaders.train_set, kept), part(loaders.train_set, held))
    if ctx.record.main:
        write_atomic(ctx.run_dir / SPLIT_FILE, json.dumps({"train": kept.tolist(), "val": held.tolist()}) + "\n")
    how = "stratified by class" if class_labels(train.targets) is not None else "at random"
    ctx.record.note(
        f"validation: {len(held):,} of the {train.length:,} training items, {how} <validation.fraction="
        f"{settings.fraction} validation.min_items={settings.min_items} validation.seed={settings.seed}>; "
        f"from the baselines stage on, training and validation items are numbered within their part "
        f"({SPLIT_FILE} maps them to your training set's)"
    )
    return {"train": part_summary(train, kept), "val": part_summary(train, held), "test": summaries["test"]}
