"""Tasks: what 'classify' (and later 'regress', 'binary', 'charlm') means to the recipe."""
from .base import TargetProblem, Task
from .classify import Classify

__all__ = ["Classify", "TargetProblem", "Task"]
