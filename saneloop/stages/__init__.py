"""The stages of a run, in the order the recipe climbs them. `saneloop.runner.pipeline` calls each in turn."""

NAMES = ("setup", "sanity", "baselines", "overfit", "capacity", "train", "evaluate")

__all__ = ["NAMES"]
