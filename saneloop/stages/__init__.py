"""The stages of a run, in the order the recipe climbs them. `saneloop.runner.pipeline` calls each in turn;
each stage module's `NAME` is one of these (the gates' declarations name their stage from the same list)."""

from ..checks.base.gate import STAGES as NAMES

__all__ = ["NAMES"]
