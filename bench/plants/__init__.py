"""Every planted bug (and clean control model) of the tests and the bug bench, in one collection.

Configs name them by `_target_`, e.g. `model._target_=bench.plants.SoftmaxMLP`.
"""
from .data import planted_digits, shuffled, shuffled_digits, shifted_targets, zero_std_standardised, leaked_target, NoisyItems, noisy, noisy_digits, sequences, one_dataset, empty_train, unpaired_items, ragged_inputs, unshifted_shakespeare
from .models import SoftmaxMLP, FrozenMLP, ScaledInitMLP, NoBiasMLP, OutputScaledMLP, UnseededNoiseMLP, TimeMajorNet, BatchStandardizedMLP, BatchSoftmaxMLP, BatchNormDropoutMLP, DetachedBodyMLP, EvalDropoutMLP, RowPoolNet, DoubleSigmoidMLP, PartialInputMLP, ResidualMLP, LogSoftmaxMLP
from .sequence_models import TinyCausalLM, LeakyMaskTransformer, LastTokenTransformer, SoftmaxCharTransformer, ScaledHeadCharTransformer, HeadsMixedCharTransformer, BatchNormedCharTransformer, PositionOnlyCharTransformer, DetachedEmbeddingCharTransformer, TiedCharTransformer
from .tasks import SummedLossClassify, PerPositionClassify, NLLOnLogitsClassify, SummedLossRegress, BroadcastMSERegress
from .optim import StepWithZeroedGrads, NeverZeroGrad, foreign_params_adamw
from .faults import CrashOnProcessMLP, SlowMLP, die_halfway_through_checkpoint, SignalMLP, CrashInEvalMLP

__all__ = [
    "BatchNormDropoutMLP",
    "BatchNormedCharTransformer",
    "BatchSoftmaxMLP",
    "BatchStandardizedMLP",
    "BroadcastMSERegress",
    "CrashInEvalMLP",
    "CrashOnProcessMLP",
    "DetachedBodyMLP",
    "DetachedEmbeddingCharTransformer",
    "DoubleSigmoidMLP",
    "EvalDropoutMLP",
    "FrozenMLP",
    "HeadsMixedCharTransformer",
    "LastTokenTransformer",
    "LeakyMaskTransformer",
    "LogSoftmaxMLP",
    "NLLOnLogitsClassify",
    "NeverZeroGrad",
    "NoBiasMLP",
    "NoisyItems",
    "OutputScaledMLP",
    "PartialInputMLP",
    "PerPositionClassify",
    "PositionOnlyCharTransformer",
    "ResidualMLP",
    "RowPoolNet",
    "ScaledHeadCharTransformer",
    "ScaledInitMLP",
    "SignalMLP",
    "SlowMLP",
    "SoftmaxCharTransformer",
    "SoftmaxMLP",
    "StepWithZeroedGrads",
    "SummedLossClassify",
    "SummedLossRegress",
    "TiedCharTransformer",
    "TimeMajorNet",
    "TinyCausalLM",
    "UnseededNoiseMLP",
    "die_halfway_through_checkpoint",
    "empty_train",
    "foreign_params_adamw",
    "leaked_target",
    "noisy",
    "noisy_digits",
    "one_dataset",
    "planted_digits",
    "ragged_inputs",
    "sequences",
    "shifted_targets",
    "shuffled",
    "shuffled_digits",
    "unpaired_items",
    "unshifted_shakespeare",
    "zero_std_standardised",
]
