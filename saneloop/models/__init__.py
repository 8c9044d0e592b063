"""Small models the recipes use by default; bring your own through `model._target_`."""

from .char_transformer import CharTransformer
from .mlp import MLP

__all__ = ["CharTransformer", "MLP"]
