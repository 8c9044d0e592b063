"""The stages of a run, in the order the recipe climbs them. Each has NAME and run(ctx)."""
from . import evaluate, overfit, sanity, setup, train

ORDER = (setup, sanity, overfit, train, evaluate)

__all__ = ["ORDER"]
