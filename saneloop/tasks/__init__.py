"""Tasks: what 'classify', 'regress', 'binary' and 'charlm' mean to the recipe."""

from .base import (
    ChecksPairs,
    HasOverfitFloor,
    HasPerExampleLoss,
    HasPerOutputLoss,
    PredictsRight,
    TargetProblem,
    Task,
)
from .binary import Binary
from .charlm import CharLM
from .classify import Classify
from .regress import Regress
from .traits import TaskTraits, traits_of
from .views import BatchView, ImageView, PredictionView, TableView, TextView

__all__ = [
    "BatchView",
    "Binary",
    "CharLM",
    "ChecksPairs",
    "Classify",
    "HasOverfitFloor",
    "HasPerExampleLoss",
    "HasPerOutputLoss",
    "ImageView",
    "PredictionView",
    "PredictsRight",
    "Regress",
    "TableView",
    "TargetProblem",
    "Task",
    "TaskTraits",
    "TextView",
    "traits_of",
]
