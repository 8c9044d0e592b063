"""Small models the recipes use by default; bring your own through `model._target_`."""
from .mlp import MLP

__all__ = ["MLP"]
