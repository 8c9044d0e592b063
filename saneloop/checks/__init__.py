"""Checks: small, pure functions from measurements to a `Verdict`.

They log nothing and raise nothing; the pipeline records, reduces across processes and halts.
Each is also usable on its own in a user's tests, without Hydra.
"""
from .classes_present import all_classes_present
from .determinism import identical_losses
from .full_eval import every_example_once
from .init_bias import bias_from_data
from .init_loss import loss_matches
from .inputs_finite import all_finite
from .loss_decreases import loss_decreased
from .overfit import overfit_batch
from .settings import GateSettings
from .targets import targets_valid
from .verdict import Verdict

__all__ = [
    "GateSettings", "Verdict", "all_classes_present", "all_finite", "bias_from_data", "every_example_once", "identical_losses",
    "loss_decreased", "loss_matches", "overfit_batch", "targets_valid",
]
