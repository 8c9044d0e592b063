"""Tasks: what 'classify' (and later 'regress', 'binary', 'charlm') means to the recipe."""
from .base import TargetProblem, Task
from .classify import Classify
from .views import BatchView, ImageView, PredictionView, TableView, TextView

__all__ = ["BatchView", "Classify", "ImageView", "PredictionView", "TableView", "TargetProblem", "Task", "TextView"]
