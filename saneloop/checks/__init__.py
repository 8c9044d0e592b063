"""Checks: small functions from a model and data (or measurements) to a `Verdict`.

They log nothing and raise nothing; the pipeline records, reduces across processes and halts.
Each is usable on its own in a user's tests, on the user's own model and data, without Hydra:
the measurement goes with the check (a copy of the model is probed or trained, never the model).
Each gate's settings class (e.g. `OverfitSettings`) is exported beside it.
"""

from .augmentation_off import AugmentationOffSettings, items_repeat
from .batch_independence import BatchIndependenceSettings, independent_samples
from .beats_baselines import BeatsBaselinesSettings, above_baselines
from .capacity import CapacitySettings, wider_no_worse
from .causality import CausalitySettings, causal_dependencies
from .classes_present import ClassesPresentSettings, all_classes_present
from .determinism import DeterminismSettings, identical_losses, reproducible
from .eval_repeatable import EvalRepeatableSettings, evaluates_repeatably
from .full_eval import FullEvalSettings, every_example_once
from .full_pass import BatchInspector, FullPassSettings
from .init_bias import InitBiasSettings, bias_reaches_output
from .init_loss import InitLossSettings, loss_at_init
from .input_independent import InputIndependentSettings, learns_from_inputs
from .inputs_finite import InputsFiniteSettings, all_finite
from .loopy_reference import LoopyReferenceSettings, matches_reference, model_matches_reference
from .loss_decreases import LossDecreasesSettings, loss_decreased
from .overfit import OverfitSettings, overfit_batch
from .params_learn import ParamsLearnSettings, every_param_learns
from .settings import GateSettings
from .targets import TargetsSettings, targets_valid
from .verdict import Verdict

# every check function in the order a run meets them, then each gate's settings class
__all__ = [
    "GateSettings",
    "Verdict",
    "targets_valid",
    "all_classes_present",
    "all_finite",
    "items_repeat",
    "reproducible",
    "identical_losses",
    "bias_reaches_output",
    "loss_at_init",
    "every_param_learns",
    "independent_samples",
    "causal_dependencies",
    "matches_reference",
    "model_matches_reference",
    "learns_from_inputs",
    "overfit_batch",
    "wider_no_worse",
    "BatchInspector",
    "loss_decreased",
    "every_example_once",
    "evaluates_repeatably",
    "above_baselines",
    "AugmentationOffSettings",
    "BatchIndependenceSettings",
    "BeatsBaselinesSettings",
    "CapacitySettings",
    "CausalitySettings",
    "ClassesPresentSettings",
    "DeterminismSettings",
    "EvalRepeatableSettings",
    "FullEvalSettings",
    "FullPassSettings",
    "InitBiasSettings",
    "InitLossSettings",
    "InputIndependentSettings",
    "InputsFiniteSettings",
    "LoopyReferenceSettings",
    "LossDecreasesSettings",
    "OverfitSettings",
    "ParamsLearnSettings",
    "TargetsSettings",
]
