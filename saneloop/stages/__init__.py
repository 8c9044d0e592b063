"""The stages of a run, in the order the recipe climbs them. Each has NAME and run(ctx)."""
from . import baselines, capacity, evaluate, overfit, sanity, setup, train

ORDER = (setup, sanity, baselines, overfit, capacity, train, evaluate)

__all__ = ["ORDER"]
