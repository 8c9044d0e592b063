"""Data that ships offline with saneloop and its dependencies, for the recipes' defaults."""

from .diabetes import diabetes
from .digits import digits
from .digits_binary import digits_binary
from .shakespeare import tiny_shakespeare

__all__ = ["diabetes", "digits", "digits_binary", "tiny_shakespeare"]
