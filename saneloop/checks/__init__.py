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
from .data_order import DataOrderSettings, ResumeOrderSettings
from .determinism import DeterminismSettings, identical_losses, reproducible
from .eval_repeatable import EvalRepeatableSettings, evaluates_repeatably
from .full_eval import FullEvalSettings, every_example_once
from .full_pass import BatchInspector, FullPassSettings
from .grad_accumulation import GradAccumulationSettings, accumulation_matches
from .init_bias import InitBiasSettings, bias_reaches_output
from .init_loss import InitLossSettings, loss_at_init
from .input_independent import InputIndependentSettings, learns_from_inputs
from .inputs_finite import InputsFiniteSettings, all_finite
from .inputs_used import InputsUsedSettings, inputs_reach_output
from .label_noise import LabelNoiseSettings, likely_mislabelled
from .labels_masked import LabelsMaskedSettings, padding_labels_ignored
from .loopy_reference import LoopyReferenceSettings, matches_reference, model_matches_reference
from .loss_decreases import LossDecreasesSettings, loss_decreased
from .model_loss import ModelLossSettings, losses_agree
from .modes import EvalModeSettings, ModesSettings, TrainModeSettings, switches_both_ways
from .overfit import OverfitSettings, overfit_batch
from .padding_ignored import PaddingIgnoredSettings, padding_ignored
from .params_learn import ParamsLearnSettings, every_param_learns
from .replicas import ReplicasSettings
from .settings import GateSettings
from .split_overlap import SplitOverlapSettings, overlapping_items
from .split_shift import SplitShiftSettings, shifted_features
from .target_leak import TargetLeakSettings, leaking_features
from .targets import TargetsSettings, targets_valid
from .too_good import TooGoodSettings, too_good_too_fast
from .verdict import Verdict

# every check function in the order a run meets them, then each gate's settings class
__all__ = [
    "GateSettings",
    "Verdict",
    "targets_valid",
    "padding_labels_ignored",
    "all_classes_present",
    "all_finite",
    "items_repeat",
    "reproducible",
    "identical_losses",
    "bias_reaches_output",
    "loss_at_init",
    "losses_agree",
    "every_param_learns",
    "inputs_reach_output",
    "independent_samples",
    "padding_ignored",
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
    "overlapping_items",
    "shifted_features",
    "leaking_features",
    "switches_both_ways",
    "accumulation_matches",
    "too_good_too_fast",
    "likely_mislabelled",
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
    "LabelsMaskedSettings",
    "InputsUsedSettings",
    "LoopyReferenceSettings",
    "LossDecreasesSettings",
    "ModelLossSettings",
    "OverfitSettings",
    "PaddingIgnoredSettings",
    "ParamsLearnSettings",
    "TargetsSettings",
    "DataOrderSettings",
    "EvalModeSettings",
    "GradAccumulationSettings",
    "LabelNoiseSettings",
    "ModesSettings",
    "ReplicasSettings",
    "ResumeOrderSettings",
    "SplitOverlapSettings",
    "SplitShiftSettings",
    "TargetLeakSettings",
    "TooGoodSettings",
    "TrainModeSettings",
]
