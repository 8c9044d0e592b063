"""The zoo's setups, one per row: (name, recipe, overrides, budget, what it varies). See cases.py.

Regression, binary and language-model setups here; classification in setups_classify.py."""

from __future__ import annotations

from .cases import (
    CHAR_TRANSFORMER,
    MLP,
    NO_WIDTH,
    adam,
    adamw,
    data,
    epochs,
    model,
    sgd,
    steps,
    wider,
)

R, B, C, LM = "regress", "binary", "classify", "charlm"
DIABETES = "saneloop.datasets.diabetes"


def regress() -> list[tuple]:
    return [
        (
            "reg_diabetes_raw_mlp",
            R,
            data(DIABETES, target_shift=0.0, target_scale=1.0)
            + model(MLP, in_features=10, out_features=1, hidden=64, dropout=0.2, head_scale=0.1)
            + adamw(1e-2)
            + wider(128),
            epochs(100),
            "raw targets (mean 152, variance 5,900), the recipe's MLP, lr 1e-2",
        ),
        (
            "reg_diabetes_raw_scaled_head",
            R,
            data(DIABETES, target_shift=0.0, target_scale=1.0)
            + model("ScaledHeadMLP", in_features=10, scale=77.0, hidden=64, dropout=0.1)
            + adamw(1e-3)
            + wider(128),
            epochs(30),
            "raw targets, a head in the target's units",
        ),
        (
            "reg_diabetes_x1000_scaled_head",
            R,
            data(DIABETES, target_shift=0.0, target_scale=0.001)
            + model("ScaledHeadMLP", in_features=10, scale=77000.0, hidden=64)
            + adam(1e-3)
            + wider(128),
            epochs(30),
            "units x1000 (mean 152,000, variance 5.9e9)",
        ),
        (
            "reg_diabetes_linear_sgd",
            R,
            data(DIABETES, target_shift=152.0, target_scale=77.0)
            + model(MLP, in_features=10, out_features=1, depth=0)
            + sgd(1e-2)
            + NO_WIDTH,
            epochs(30),
            "standardised targets, a linear model, SGD + momentum",
        ),
        (
            "reg_noise90_mlp",
            R,
            data("data.noisy_target", n=10000, noise=0.9, test_size=2000)
            + model(MLP, in_features=8, out_features=1, hidden=64)
            + adamw(1e-3)
            + wider(128),
            epochs(4),
            "90% of the target's variance is noise; 10,000 examples",
        ),
        (
            "reg_noise90_raw_units",
            R,
            data("data.noisy_target", n=10000, noise=0.9, test_size=2000, mean=150.0, std=75.0)
            + model("ScaledHeadMLP", in_features=8, scale=75.0, hidden=64)
            + adam(1e-3)
            + wider(128),
            epochs(4),
            "90% noise, in raw units (standard deviation 75)",
        ),
        (
            "reg_tiny_friedman_raw",
            R,
            data("data.friedman", n=190, test_size=40)
            + model(MLP, in_features=10, out_features=1, hidden=32)
            + adam(1e-2)
            + wider(64),
            epochs(200),
            "150 training examples, 40 test, raw units (mean 14, variance 24)",
        ),
        (
            "reg_friedman_resmlp_adam_1e-4",
            R,
            data("data.friedman", n=2400, test_size=400, target_shift=14.4, target_scale=4.9)
            + model("ResMLP", in_features=10, out_features=1, hidden=64, blocks=2)
            + adam(1e-4)
            + wider(128),
            epochs(20),
            "residual MLP with LayerNorm, Adam at 1e-4",
        ),
        (
            "reg_wine_hue_raw",
            R,
            data("data.table_column", name="wine", column=10, test_size=45)
            + model(MLP, in_features=12, out_features=1, hidden=32)
            + adamw(1e-3)
            + wider(64),
            epochs(100),
            "raw units with a small variance (0.05), 133 training rows, 45 test",
        ),
        (
            "reg_cancer_area_scaled_head",
            R,
            data("data.table_column", name="breast_cancer", column=3, test_size=140)
            + model("ScaledHeadMLP", in_features=29, scale=350.0, hidden=64)
            + adamw(1e-3)
            + wider(128),
            epochs(30),
            "raw units with a large variance (124,000)",
        ),
        (
            "reg_digit_value_cnn_bn",
            R,
            data("data.digits_subset", train_size=1357, test_size=440, value=True)
            + model("ConvNet", in_channels=1, out_features=1, hidden=16, norm="batch")
            + adam(3e-3)
            + wider(32),
            epochs(15),
            "a digit's value (0-9, raw) from its image, CNN + BatchNorm + pooling",
        ),
        (
            "reg_sum_gru_time_major",
            R,
            data("sequences.running_sum", n=3000)
            + model("RNNNet", in_features=2, out_features=1, hidden=32, cell="gru", batch_first=False)
            + adam(3e-3)
            + wider(64),
            epochs(10),
            "the sum of a sequence (variance 16), time-major GRU",
        ),
    ]


def binary() -> list[tuple]:
    return [
        (
            "bin_cancer_mlp",
            B,
            data("data.table", name="breast_cancer", positive=1, test_size=140)
            + model(MLP, in_features=30, out_features=1, hidden=32)
            + adam(1e-3)
            + wider(64),
            epochs(20),
            "breast cancer (63% positive), 429 rows",
        ),
        (
            "bin_cancer_logistic_sgd",
            B,
            data("data.table", name="breast_cancer", positive=1, test_size=140)
            + model(MLP, in_features=30, out_features=1, depth=0)
            + sgd(1e-2)
            + NO_WIDTH,
            epochs(20),
            "logistic regression, SGD + momentum",
        ),
        (
            "bin_rare_positives",
            B,
            data("data.rare_positives", n=10000, rate=0.02)
            + model(MLP, in_features=8, out_features=1, hidden=32)
            + adamw(1e-3)
            + wider(64),
            epochs(3),
            "2% positives, 10,000 examples",
        ),
        (
            "bin_digits_cnn_groupnorm",
            B,
            data("saneloop.datasets.digits_binary")
            + model("ConvNet", in_channels=1, out_features=1, hidden=16, norm="group")
            + adam(1e-3)
            + wider(32),
            epochs(5),
            "CNN + GroupNorm + global pooling, 1:9 imbalance",
        ),
        (
            "bin_sum_sign_lstm",
            B,
            data("sequences.running_sum", n=3000, binary=True)
            + model("RNNNet", in_features=2, out_features=1, hidden=32, cell="lstm")
            + adam(3e-3)
            + wider(64),
            epochs(10),
            "LSTM (batch-first)",
        ),
        (
            "bin_iris_tiny",
            B,
            data("data.table", name="iris", positive=2, test_size=40)
            + model(MLP, in_features=4, out_features=1, hidden=16)
            + adamw(1e-2)
            + wider(32),
            epochs(100),
            "110 training rows, 40 test, AdamW at 1e-2",
        ),
    ]


def charlm() -> list[tuple]:
    def text(vocab_size: int, **args):
        codes = {} if args.get("lowercase") else {"codes": vocab_size}
        return data("sequences.shakespeare", block_size=32, vocab_size=vocab_size, **codes, **args)

    return [
        (
            "lm_bytes256_transformer",
            LM,
            text(vocab_size=256)
            + model(CHAR_TRANSFORMER, vocab_size=256, block_size=32, dim=32, layers=2, heads=4)
            + adamw(3e-3),
            steps(300),
            "byte vocabulary (256 ids, 65 occur), small transformer",
        ),
        (
            "lm_ascii128_gru",
            LM,
            text(vocab_size=128) + model("CharRNN", vocab_size=128, hidden=64, cell="gru") + adam(3e-3),
            steps(300),
            "ASCII vocabulary (128 ids), GRU",
        ),
        (
            "lm_bytes256_lstm_time_major",
            LM,
            text(vocab_size=256)
            + model("CharRNN", vocab_size=256, hidden=64, cell="lstm", batch_first=False)
            + adam(3e-3),
            steps(300),
            "byte vocabulary, LSTM time-major",
        ),
        (
            "lm_lowercase28_transformer",
            LM,
            text(vocab_size=28, lowercase=True)
            + model(CHAR_TRANSFORMER, vocab_size=28, block_size=32, dim=48, layers=2, heads=4)
            + adamw(1e-3),
            steps(300),
            "lowercase letters, space and newline (28 ids, every one occurs)",
        ),
        (
            "lm_unseen_test_chars_gru",
            LM,
            data("sequences.shakespeare_prefix", vocab_size=65)
            + model("CharRNN", vocab_size=65, hidden=64, cell="gru")
            + adam(3e-3),
            steps(300),
            "40,000 training characters: 'K' and 'Z' occur in test only",
        ),
        (
            "lm_bytes256_gru_adamw_1e-2",
            LM,
            text(vocab_size=256) + model("CharRNN", vocab_size=256, hidden=64, cell="gru") + adamw(1e-2, 0.1),
            steps(300),
            "byte vocabulary, AdamW at 1e-2, weight decay 0.1",
        ),
    ]
