"""The command line: `saneloop` / `python -m saneloop`, a thin layer over `saneloop.run`."""

from .main import main

__all__ = ["main"]
