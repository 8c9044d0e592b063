"""Checks: small, pure functions from measurements to a `Verdict`.

They log nothing and raise nothing; the pipeline records, reduces across processes and halts.
Each is also usable on its own in a user's tests, without Hydra.
"""
from .augmentation_off import items_repeat
from .batch_independence import independent_samples
from .beats_baselines import above_baselines
from .capacity import wider_no_worse
from .causality import causal_dependencies
from .classes_present import all_classes_present
from .determinism import identical_losses
from .full_eval import every_example_once
from .init_bias import bias_from_data
from .init_loss import loss_matches
from .eval_repeatable import repeatable_eval
from .input_independent import learns_from_inputs
from .inputs_finite import all_finite
from .loopy_reference import matches_reference, model_matches_reference
from .loss_decreases import loss_decreased
from .overfit import overfit_batch
from .params_learn import every_param_learns
from .settings import GateSettings
from .targets import targets_valid
from .verdict import Verdict

__all__ = [
    "GateSettings", "Verdict", "all_classes_present", "all_finite", "bias_from_data", "every_example_once", "identical_losses",
    "loss_decreased", "loss_matches", "overfit_batch", "targets_valid",
    # tips 2, 6, 7, 9, 12, 13 and repeatable eval
    "above_baselines", "causal_dependencies", "every_param_learns", "independent_samples", "items_repeat",
    "learns_from_inputs", "matches_reference", "model_matches_reference", "repeatable_eval", "wider_no_worse",
]
