"""The clean-model zoo (issue 11): correct models, data and optimisers the gates were not tuned on.

`cases.zoo()` lists them; `python scripts/bugbench.py --zoo` runs them over seeds 0-4 and writes
docs/zoo.md. The zoo's own data and models live here too; planted bugs stay in bench/plants.
"""

from .models import ConvNet, ResMLP, ResNet, ScaledHead, ScaledHeadMLP
from .sequence_models import CharRNN, RNNNet, TokenTransformer

__all__ = ["CharRNN", "ConvNet", "RNNNet", "ResMLP", "ResNet", "ScaledHead", "ScaledHeadMLP", "TokenTransformer"]
