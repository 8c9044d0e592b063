"""Data that ships offline with saneloop's dependencies, for the recipes' defaults."""
from .digits import digits

__all__ = ["digits"]
