"""Setup's first look at every split, and the validation set: the data's own, or carved from training.

The carving (`validation.*`) works on the training targets the first look has read, so it reads no
item twice; it replaces the loaders' training set with what is left of it.
"""

from __future__ import annotations

from ..data import survey
from ..data.loaders import Loaders
from ..data.summary import DatasetSummary
from ..data.validation import carve, class_labels, part, part_summary, refuse_too_few
from .context import RunContext


def first_looks(ctx: RunContext, loaders: Loaders, sample: int, pad: int) -> dict[str, DatasetSummary]:
    """Every target of each split ("train", "val", "test"), the validation set carved where the data gave none."""
    look = lambda split: survey.first_look(loaders, split, sample, ctx.seed, pad)  # noqa: E731
    train = look("train")
    if loaders.val_set is None:
        summaries = _carved(ctx, loaders, train)
    else:
        target = ctx.settings.config.data.get("_target_")
        refuse_too_few(len(loaders.val_set), f"the validation set data._target_={target} returned has")  # type: ignore[arg-type]
        summaries = {"train": train, "val": look("val")}
        ctx.record.note(f"validation: the data's own validation set, {summaries['val'].length:,} items")
    return {**summaries, "test": look("test")}


def _carved(ctx: RunContext, loaders: Loaders, train: DatasetSummary) -> dict[str, DatasetSummary]:
    """The validation set carved from the training set (`validation.fraction`, seeded by `validation.seed`)."""
    settings = ctx.settings.validation
    kept, held = carve(train.targets, settings.fraction, settings.seed)
    whole = loaders.train_set
    loaders.train_set, loaders.val_set = part(whole, kept), part(whole, held)
    how = "stratified by class" if class_labels(train.targets) is not None else "at random"
    ctx.record.note(
        f"validation: {len(held):,} of the {train.length:,} training items, {how} <validation.fraction="
        f"{settings.fraction} validation.seed={settings.seed}>; each part numbers its items from 0"
    )
    return {"train": part_summary(train, kept), "val": part_summary(train, held)}
