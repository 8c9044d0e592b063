"""The bench's cases: planted bugs (each naming the gate expected to halt it) and clean controls.

A case is one pipeline run: a recipe plus Hydra overrides. `expected` is the first gate that should
halt it, set from what the gate measures (docs/bugbench.md), or "none" where no gate can. `pattern`
is the row of ../shared/RESEARCH.md's table of real bug patterns it reproduces (or a short label).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Reduced budgets (the gates keep the recipes' settings, except where the budget forces a change).
BUDGET = {
    "classify": ["train.epochs=3"],  # ~90% test accuracy instead of 98%: beats_baselines still has a wide margin
    "binary": ["train.epochs=3"],
    "regress": [],  # the recipe's own 30 epochs are ~180 steps: already seconds
    # 250 steps instead of ~2000: a short run ends near the bigram plateau. 120 steps (the tests' budget)
    # left the weight-tied control short of the bigram baseline.
    "charlm": ["train.max_steps=250"],
    # The Hugging Face examples (examples/hf_*, the `hf` extra): their own recipes, as they ship.
    "hf_speakers": [],
    "hf_gpt2": [],
}
# Recipes that live in an example's config dir (its folder is put on sys.path, as `cd` there does).
CONFIG_DIR = {"hf_speakers": "examples/hf_speakers/conf", "hf_gpt2": "examples/hf_gpt2/conf"}
QUIET = ["output.progress=false", "output.save_weights=false", "output.figures=false"]
SOURCE = {
    "classify": "saneloop.datasets.digits",
    "binary": "saneloop.datasets.digits_binary",
    "regress": "saneloop.datasets.diabetes",
    "charlm": "saneloop.datasets.tiny_shakespeare",
}
SEEDS = range(5)


@dataclass
class Case:
    name: str
    recipe: str
    overrides: list[str]
    expected: str  # a gate name, "none" (no gate can), or "pass" (a clean control)
    pattern: str = ""
    note: str = ""
    seed: int = 0
    kind: str = "bug"  # "bug" or "clean"
    budget: list[str] = field(default_factory=list)
    processes: int = 1  # > 1: launched with torchrun (gloo on CPU)
    resume_from: int | None = None  # run, keep only the checkpoint of this step, then resume from it
    cuda: bool = False  # needs a CUDA device (fp16's gradient scaler): left out where there is none

    @property
    def id(self) -> str:
        return f"{self.name}" if self.kind == "bug" else f"{self.name}@seed{self.seed}"

    @property
    def config_dir(self) -> str:
        return CONFIG_DIR.get(self.recipe, "")

    def all_overrides(self) -> list[str]:
        return [*BUDGET[self.recipe], *QUIET, f"seed={self.seed}", *self.overrides]


def _data(recipe: str, plant: str, *args: str) -> list[str]:
    return [f"data._target_=bench.plants.{plant}", f"+data.source={SOURCE[recipe]}", *[f"+data.{a}" for a in args]]


def _model(plant: str, *args: str) -> list[str]:
    return [f"model._target_={plant if '.' in plant else 'bench.plants.' + plant}", *args]


def bugs() -> list[Case]:
    c, r, b, lm = "classify", "regress", "binary", "charlm"
    return [
        # --- classify (digits, MLP) ---
        Case("cls_labels_1_to_C", c, _data(c, "shifted_targets"), "targets", "#2 labels 1..C"),
        Case(
            "cls_zero_std_nan",
            c,
            _data(c, "zero_std_standardised"),
            "inputs_finite",
            "NaN from normalising by a zero std",
            "digits' blank corner pixels: 0/0",
        ),
        Case(
            "cls_class_filtered_out",
            c,
            ["data._target_=bench.plants.planted_digits", "+data.drop_class=7"],
            "classes_present",
            "a filter drops a class",
        ),
        Case("cls_random_transform_on", c, _data(c, "noisy"), "augmentation_off", "#13 random transform left on"),
        Case(
            "cls_unseeded_noise", c, _model("bench.plants.UnseededNoiseMLP"), "determinism", "#38 unseeded randomness"
        ),
        Case(
            "cls_no_bias_imbalanced",
            c,
            [
                "data._target_=bench.plants.planted_digits",
                "+data.keep_per_minor_class=15",
                *_model("bench.plants.NoBiasMLP"),
            ],
            "init_bias",
            "#25 imbalance, no bias",
        ),
        Case(
            "cls_head_init_x10",
            c,
            _model("bench.plants.ScaledInitMLP"),
            "init_bias",
            "#24 head init too large",
            "the mean prediction is already far from the prior; init_loss would see it next",
        ),
        Case("cls_output_scaled", c, _model("bench.plants.OutputScaledMLP"), "init_bias", "#24 output x10 after head"),
        Case(
            "cls_loss_summed", c, ["task._target_=bench.plants.SummedLossClassify"], "init_loss", "#29 reduction='sum'"
        ),
        Case(
            "cls_nll_on_logits", c, ["task._target_=bench.plants.NLLOnLogitsClassify"], "init_loss", "#30 NLL on logits"
        ),
        Case("cls_detached_body", c, _model("bench.plants.DetachedBodyMLP"), "params_learn", "#35 detach mid-graph"),
        Case(
            "cls_pretrained_lr_too_high",
            c,
            [*_model("bench.plants.pretrained.NotebookPretrainedMLP"), "optim.lr=0.3"],
            "pretrained_lr",
            "issue 20: a pretrained model fine-tuned at a learning rate for training from scratch",
        ),
        Case(
            "cls_frozen_body",
            c,
            _model("bench.plants.FrozenMLP"),
            "input_independent",
            "#34 frozen parameters",
            "frozen params have no grad to check; a head bias alone cannot use the inputs",
        ),
        Case(
            "cls_view_not_permute",
            c,
            _model("bench.plants.TimeMajorNet", "model.hidden=16", "+model.permute=false"),
            "batch_independence",
            "#15 view where permute was needed",
        ),
        Case(
            "cls_batch_standardised",
            c,
            _model("bench.plants.BatchStandardizedMLP"),
            "batch_independence",
            "#8 normalising over the batch axis",
        ),
        Case(
            "cls_softmax_batch_axis",
            c,
            _model("bench.plants.BatchSoftmaxMLP"),
            "batch_independence",
            "#16 softmax over the batch axis",
        ),
        Case(
            "cls_loopy_mismatch",
            c,
            _model("bench.plants.RowPoolNet", "model.hidden=32", "+model.transposed=true"),
            "loopy_reference",
            "vectorized != loop (transposed)",
        ),
        Case("cls_train_labels_shuffled", c, _data(c, "shuffled"), "input_independent", "#1 labels shuffled"),
        Case(
            "cls_test_labels_misaligned",
            c,
            _data(c, "shuffled", "train=false", "test=true"),
            "beats_baselines",
            "test labels misaligned",
            "the test set is read once, at evaluate (decisions read validation): beats_baselines holds the test "
            "headline to the test baselines",
        ),
        Case("cls_softmax_before_ce", c, _model("bench.plants.SoftmaxMLP"), "overfit", "#26 softmax before CE"),
        Case(
            "cls_zeroed_before_step",
            c,
            ["optim._target_=bench.plants.StepWithZeroedGrads"],
            "input_independent",
            "zero_grad between backward and step",
            "nothing learns, on real or zeroed inputs",
        ),
        Case(
            "cls_optimizer_foreign_params",
            c,
            ["optim._target_=bench.plants.foreign_params_adamw"],
            "input_independent",
            "#34 optimizer without the model's params",
        ),
        Case("cls_lr_100x", c, ["optim.lr=0.1"], "loss_decreases", "#36 lr 100x too high"),
        Case("cls_lr_tiny", c, ["optim.lr=1e-7"], "input_independent", "#36 lr far too low"),
        Case("cls_eval_dropout", c, _model("bench.plants.EvalDropoutMLP"), "eval_repeatable", "#21 dropout at eval"),
        Case("cls_eval_drop_last", c, ["loader.test.drop_last=true"], "full_eval", "#39 eval drops the last batch"),
        Case(
            "cls_corrupt_item_unsampled",
            c,
            ["data._target_=bench.plants.synthetic_images", "+data.n=20000", "+data.nan_at=[6395]"],
            "full_pass",
            "a corrupt item in a large map-style set",
            "item 6395 of 20,000: outside setup's 2,000-item sample and every gate's reads (seed 0)",
        ),
        Case(
            "cls_partial_input",
            c,
            _model("PartialInputMLP", "+model.keep=16"),
            "none",
            "model ignores part of its input",
            "reads the top 2 of 8 rows: still learns, beats chance",
        ),
        Case(
            "cls_target_leaked",
            c,
            _data(c, "leaked_target"),
            "target_leak",
            "#3 target leaked into the input",
            "the label written into pixel 0; expected `none` before the second wave (issue 14) added target_leak",
        ),
        # --- regress (diabetes, MLP, MSE) ---
        Case(
            "reg_no_bias_raw_targets",
            r,
            ["data.target_shift=0", "data.target_scale=1", *_model("bench.plants.NoBiasMLP")],
            "init_bias",
            "head without a bias, target mean 152",
        ),
        Case(
            "reg_zero_std_nan",
            r,
            _data(r, "zero_std_standardised", "constant_feature=1"),
            "inputs_finite",
            "NaN from a zero std",
            "a feature constant in the data",
        ),
        Case(
            "reg_loss_summed", r, ["task._target_=bench.plants.SummedLossRegress"], "init_loss", "#29 reduction='sum'"
        ),
        Case(
            "reg_broadcast_mse",
            r,
            ["task._target_=bench.plants.BroadcastMSERegress"],
            "overfit",
            "#28 (N,1) vs (N,) broadcast",
        ),
        Case("reg_targets_shuffled", r, _data(r, "shuffled"), "input_independent", "#1 targets shuffled"),
        Case(
            "reg_batch_standardised",
            r,
            _model("bench.plants.BatchStandardizedMLP"),
            "batch_independence",
            "#8 normalising over the batch axis",
        ),
        Case("reg_detached_body", r, _model("bench.plants.DetachedBodyMLP"), "params_learn", "#35 detach mid-graph"),
        Case("reg_eval_dropout", r, _model("bench.plants.EvalDropoutMLP"), "eval_repeatable", "#21 dropout at eval"),
        Case(
            "reg_eval_drop_last",
            r,
            ["loader.test.drop_last=true", "loader.test.batch_size=64"],
            "full_eval",
            "#39 eval drops the last batch",
        ),
        # --- binary (digit 0 vs rest, one logit, BCE with logits) ---
        Case("bin_labels_1_2", b, _data(b, "shifted_targets"), "targets", "#2 labels {1,2}"),
        Case(
            "bin_sigmoid_before_bce",
            b,
            _model("bench.plants.DoubleSigmoidMLP"),
            "init_bias",
            "#26 sigmoid before BCE-with-logits",
        ),
        Case("bin_no_bias", b, _model("bench.plants.NoBiasMLP"), "init_bias", "#25 1:9 imbalance, no bias"),
        Case("bin_labels_shuffled", b, _data(b, "shuffled"), "input_independent", "#1 labels shuffled"),
        Case(
            "bin_batch_standardised",
            b,
            _model("bench.plants.BatchStandardizedMLP"),
            "batch_independence",
            "#8 normalising over the batch axis",
        ),
        Case("bin_random_transform_on", b, _data(b, "noisy"), "augmentation_off", "#13 random transform left on"),
        Case(
            "bin_never_zero_grad",
            b,
            [
                "optim._target_=bench.plants.NeverZeroGrad",
                "+optim.momentum=0.9",
                "~optim.weight_decay",
                "optim.lr=0.01",
            ],
            "loss_decreases",
            "#33 zero_grad missing",
        ),
        # --- charlm (Tiny Shakespeare, transformer) ---
        Case(
            "lm_targets_not_shifted",
            lm,
            ["data._target_=bench.plants.unshifted_shakespeare"],
            "targets",
            "#4 LM targets not shifted",
        ),
        Case("lm_mask_off_by_one", lm, ["+model.mask_diagonal=1"], "causality", "#17 causal mask off by one"),
        Case("lm_no_mask", lm, ["+model.mask_diagonal=64"], "causality", "#17 causal mask missing"),
        Case(
            "lm_diagonal_masked",
            lm,
            ["+model.mask_diagonal=-1"],
            "causality",
            "#19 diagonal masked too",
            "SDPA gives zeros for the fully masked row 0 (not NaN, as first expected); causality now probes "
            "each attention layer's own position (issue 14)",
        ),
        Case(
            "lm_heads_mixed",
            lm,
            _model("HeadsMixedCharTransformer"),
            "causality",
            "#15 within a sample: reshape without transpose",
        ),
        Case(
            "lm_norm_over_batch",
            lm,
            _model("BatchNormedCharTransformer"),
            "batch_independence",
            "#8 normalising over the batch axis",
        ),
        Case("lm_softmax_before_ce", lm, _model("SoftmaxCharTransformer"), "init_bias", "#26 softmax before CE"),
        Case("lm_head_init_x50", lm, _model("ScaledHeadCharTransformer"), "init_bias", "#24 head init too large"),
        Case(
            "lm_ignores_tokens",
            lm,
            _model("PositionOnlyCharTransformer"),
            "input_independent",
            "model ignores its input",
        ),
        Case(
            "lm_detached_embedding",
            lm,
            _model("DetachedEmbeddingCharTransformer"),
            "params_learn",
            "#35 detached embedding",
        ),
        Case("lm_lr_far_too_high", lm, ["optim.lr=1.0"], "loss_decreases", "#36 lr far too high"),
        *hf_bugs(),
        *split_mode_order_bugs(),
        *hard_bugs(),
        *unplanted_gates(),
        *issue22_and_finetune_bugs(),
    ]


def issue22_and_finetune_bugs() -> list[Case]:
    """Issue 22's missed halts and issue 20's fine-tuning bugs (bench/suite_finetune.py)."""
    from .suite_finetune import finetune_bugs, issue22_bugs

    return [*issue22_bugs(Case), *finetune_bugs(Case)]


def unplanted_gates() -> list[Case]:
    """Issue 24: a planted bug for each gate that had none in the bench (the registry test asks every gate
    that can halt for one); expectations written before the first run, from the gates' own tests."""
    c, r = "classify", "regress"
    return [
        Case(
            "cls_batchnorm_last_batch_of_one",
            c,
            [*_model("bench.plants.BatchNormDropoutMLP"), "loader.train.batch_size=404"],
            "last_batch",
            "BatchNorm meets a last batch of one (drop_last=False)",
            "1213 training digits (after validation) in batches of 404: every epoch ends on one item, BatchNorm raises",
        ),
        Case(
            "cls_wider_model_narrower",
            c,
            ["gates.capacity.wider={model.hidden:4}"],
            "capacity",
            "tip 9: more capacity that does not lower the loss",
            "the 'wider' model is 4 units wide (a width setting misread)",
        ),
        Case(
            "reg_reads_3_of_10_features",
            r,
            _model("PartialInputMLP", "+model.keep=3"),
            "inputs_used",
            "model ignores part of its input",
            "a slice meant for something else: 7 of the 10 features never reach the output",
        ),
        Case(
            "cls_test_labels_misaligned_late",
            c,
            [*_data(c, "shuffled", "train=false", "test=true"), "gates.input_independent.enabled=false"],
            "beats_baselines",
            "test labels misaligned",
            "with the earlier gate that sees it turned off: the last line of defence",
        ),
    ]


def hard_bugs() -> list[Case]:
    """Issue 11: bugs that sit just past the statistical thresholds (expectations written before they ran)."""
    c, r, lm = "classify", "regress", "charlm"
    return [
        Case(
            "cls_labels_30pct_shuffled",
            c,
            _data(c, "partly_shuffled", "fraction=0.3"),
            "none",
            "#1 labels shuffled on 30% of the training set",
            "the other 70% carry the signal: the model learns from its inputs and beats chance; a label-noise "
            "report from out-of-sample predictions (confident learning) would see it",
        ),
        Case(
            "cls_lr_30x_low",
            c,
            ["optim.lr=3.3e-5"],
            "overfit",
            "#36 lr 30x too low",
            "the inputs are used (slowly), so input_independent passes; 8 examples are not memorised in the budget",
        ),
        Case("lm_lr_30x_low", lm, ["optim.lr=1e-4"], "overfit", "#36 lr 30x too low"),
        Case(
            "reg_reads_constant_column",
            r,
            _data(r, "with_constant_column") + _model("bench.plants.OneColumnMLP"),
            "input_independent",
            "a model that learns only from a constant channel",
            "an intercept column of ones, the only column the model reads",
        ),
        Case(
            "cls_reads_blank_pixel",
            c,
            _model("bench.plants.OneColumnMLP", "+model.column=0"),
            "input_independent",
            "a model that learns only from a constant channel",
            "pixel (0, 0), blank in every digit",
        ),
        Case(
            "cls_test_labels_off_by_one",
            c,
            _data(c, "rolled_test_targets"),
            "beats_baselines",  # the test set is read once, at evaluate
            "test labels misaligned with their inputs by one row",
        ),
        Case(
            "reg_test_targets_off_by_one",
            r,
            _data(r, "rolled_test_targets"),
            "beats_baselines",  # the test set is read once, at evaluate
            "test targets misaligned with their inputs by one row",
        ),
    ]


def split_mode_order_bugs() -> list[Case]:
    """Issue 14's planted bugs, one or more per new gate; expectations written before the first run."""
    c, r, b, lm = "classify", "regress", "binary", "charlm"
    resume = ["train.max_steps=60", "checkpoint.every=25"]
    return [
        Case("cls_split_twice", c, _data(c, "resplit"), "split_overlap", "#5 test/train overlap: split made twice"),
        Case("reg_split_twice", r, _data(r, "resplit"), "split_overlap", "#5 test/train overlap: split made twice"),
        Case(
            "lm_windows_split_twice",
            lm,
            ["data._target_=bench.plants.resplit_windows"],
            "split_overlap",
            "#5 windows shuffled and split twice",
        ),
        Case(
            "cls_near_copies",
            c,
            _data(c, "near_copies"),
            "split_overlap",
            "near-duplicates in test",
            "half the test items are training items plus 1% noise",
        ),
        Case(
            "cls_remembered_copies",
            c,
            [*_data(c, "remembered_copies"), "model._target_=bench.plants.models.MemorisingMLP"],
            "contamination",
            "13% of test items copied from training, answered from memory",
            "under split_overlap's bar; a per-item logit table remembers them (random labels only memory gives)",
        ),
        Case("cls_test_unscaled", c, _data(c, "test_scaled"), "split_shift", "test skipped the /16 scaling"),
        Case(
            "reg_test_raw_units",
            r,
            ["data._target_=bench.plants.raw_test_units"],
            "split_shift",
            "test not standardised",
        ),
        Case(
            "lm_test_other_vocab",
            lm,
            ["data._target_=bench.plants.other_vocab_test"],
            "split_shift",
            "test encoded with another vocab",
        ),
        Case("reg_target_leaked", r, _data(r, "leaked_target"), "target_leak", "#3 target copied into a feature"),
        Case("bin_target_leaked", b, _data(b, "leaked_target"), "target_leak", "#3 target written into pixel 0"),
        Case(
            "cls_onehot_leak",
            c,
            _data(c, "onehot_leak"),
            "too_good",
            "#3 label leaked as a one-hot over 10 pixels",
            "no single pixel predicts the label; held-out loss near zero within 100 steps",
        ),
        Case(
            "reg_target_is_sum",
            r,
            _data(r, "sum_leak"),
            "hidden_leak",
            "target computed from two inputs",
            "each column alone predicts little; their sum is the target (too_good expected it, and missed it)",
        ),
        Case("cls_eval_locked", c, _model("EvalLockedMLP", "model.dropout=0.2"), "modes", "#22 handed over in eval"),
        Case("cls_batchnorm_stuck", c, _model("StuckBatchNormMLP"), "modes", "BatchNorm in train mode at eval"),
        Case(
            "cls_validate_leaves_eval",
            c,
            _model("ValidateInForwardMLP", "model.dropout=0.2"),
            "train_mode",
            "#22 validate() leaves eval on",
        ),
        Case("cls_test_time_bn", c, _model("TestTimeBatchNormMLP"), "eval_mode", "BatchNorm adapted on test batches"),
        Case(
            "cls_accumulation_uneven",
            c,
            [
                *_data(c, "ignored_targets"),
                "task._target_=bench.plants.IgnoringClassify",
                "accelerator.gradient_accumulation_steps=2",
            ],
            "grad_accumulation",
            "#32 accumulation of per-micro-batch means, uneven -100 counts",
        ),
        Case(
            "cls_same_order",
            c,
            ["loader.train._target_=bench.plants.fixed_order_loader"],
            "data_order",
            "#12 sampler epoch never advances",
        ),
        Case(
            "cls_resume_replays_order",
            c,
            ["loader.train._target_=bench.plants.counting_order_loader", *resume],
            "resume_order",
            "resume replays epoch 0's order",
            "run to step 60, resumed from the step-50 checkpoint",
            resume_from=50,
        ),
        Case(
            "cls_replicas_drift",
            c,
            ["optim._target_=bench.plants.rank_scaled_adamw", "train.epochs=1"],
            "replicas",
            "#40 replicas drift (rank-dependent lr)",
            "2 processes (torchrun, gloo)",
            processes=2,
        ),
        Case(
            "cls_fp16_scale_collapse",
            c,
            [*_model("Fp16OverflowMLP"), "accelerator.mixed_precision=fp16", "train.epochs=1"],
            "loss_scale",
            "fp16 gradients that overflow at every loss scale",
            "CUDA only: Accelerate makes a gradient scaler for fp16 on CUDA",
            cuda=True,
        ),
        Case(
            "cls_batch_mix_learned",
            c,
            _model("ZeroInitBatchMixMLP"),
            "trained_batch_independence",
            "#8 batch mixing behind a zero-initialised gate",
            "independent at init, mixed after training",
        ),
        Case(
            "lm_additive_mask",
            lm,
            _model("AdditiveMaskCharTransformer"),
            "trained_causality",
            "minGPT #75 mask learned around",
            "an additive -110 mask: exactly 0 at init, not after training",
        ),
    ]


def hf_bugs() -> list[Case]:
    from .suite_hf import hf_bugs as cases

    return cases(Case)


def clean() -> list[Case]:
    c, r, b, lm = "classify", "regress", "binary", "charlm"
    kinds = [
        ("cls_default", c, [], ""),
        (
            "cls_batchnorm_dropout",
            c,
            _model("bench.plants.BatchNormDropoutMLP", "model.hidden=128", "model.dropout=0.2"),
            "BatchNorm + Dropout",
        ),
        ("cls_residual", c, _model("ResidualMLP", "model.hidden=128", "model.depth=3"), "residual stack"),
        ("cls_log_softmax", c, _model("LogSoftmaxMLP"), "#27 log_softmax before CE (harmless)"),
        (
            "cls_map_style",
            c,
            ["data._target_=bench.plants.synthetic_images", "+data.n=5000"],
            "a map-style set with stored targets: sampled in setup, read whole in epoch 1",
        ),
        ("reg_default", r, [], "dropout 0.2"),
        (
            "reg_residual",
            r,
            _model("ResidualMLP", "model.hidden=64", "model.depth=3", "~model.dropout", "~model.head_scale"),
            "residual stack",
        ),
        ("bin_default", b, [], ""),
        (
            "bin_batchnorm_dropout",
            b,
            _model("bench.plants.BatchNormDropoutMLP", "model.hidden=128", "model.dropout=0.2"),
            "BatchNorm + Dropout",
        ),
        ("lm_default", lm, [], ""),
        ("lm_tied_weights", lm, _model("TiedCharTransformer"), "weight tying"),
        ("hf_bert_speakers", "hf_speakers", [], "a transformers BERT, padded batches"),
        ("hf_gpt2_lines", "hf_gpt2", [], "a transformers GPT-2: tied head without a bias, -100 labels, its own loss"),
    ]
    return [
        Case(name, recipe, ov, "pass", note, seed=s, kind="clean") for name, recipe, ov, note in kinds for s in SEEDS
    ]
