"""Issue 22 item 9: the zoo grown with the kinds of correct setups that produced false halts, written before
any gate changed (expected: pass on seeds 0-4). Rows as in setups.py.

Text from real sources with natural duplication (Python source lines and docstrings, cut or padded to a
fixed length; bench/zoo/text.py), random windows whose test windows may share a start, raw-scale regression
at small learning rates, heads at ordinary init scales, and a Hugging Face GPT-2 on fixed-length padded
lines, right and left padded.
"""

from __future__ import annotations

from .cases import CHAR_TRANSFORMER, MLP, adam, adamw, data, epochs, model, steps, wider

R, B, C, LM, GPT2 = "regress", "binary", "classify", "charlm", "hf_gpt2"
DIABETES = "saneloop.datasets.diabetes"
DIGITS = "saneloop.datasets.digits"


def issue22() -> list[tuple]:
    return [*_text(), *_raw_scale(), *_head_scales(), *_padded_gpt2()]


def _text() -> list[tuple]:
    ascii128 = {"vocab_size": 128}
    return [
        (
            "lm_python_lines_transformer",
            LM,
            data("text.source_lines", block_size=48, **ascii128)
            + model(CHAR_TRANSFORMER, vocab_size=128, block_size=48, dim=48, layers=2, heads=4)
            + adamw(3e-3),
            steps(300),
            "stdlib source lines, cut/padded to 48 chars, split by file: ~10% of test lines also in training",
        ),
        (
            "lm_docstrings_gru",
            LM,
            data("text.docstrings", block_size=48, **ascii128)
            + model("CharRNN", vocab_size=128, hidden=64, cell="gru")
            + adam(3e-3),
            steps(300),
            "stdlib docstrings, cut/padded to 48 chars: ~2% of test docstrings also in training",
        ),
        (
            "lm_random_windows_transformer",
            LM,
            data("text.random_windows", block_size=32, vocab_size=65)
            + model(CHAR_TRANSFORMER, vocab_size=65, block_size=32, dim=32, layers=2, heads=4)
            + adamw(3e-3),
            steps(300),
            "random windows of the play (train: first 90%, test: last 10%, drawn with replacement)",
        ),
    ]


def _raw_scale() -> list[tuple]:
    raw = data(DIABETES, target_shift=0.0, target_scale=1.0)
    return [
        (
            "reg_diabetes_raw_adam_1e-3",
            R,
            raw + model(MLP, in_features=10, out_features=1, hidden=64) + adam(1e-3) + wider(128),
            epochs(100),
            "raw targets (mean 152), default-initialised MLP, Adam at 1e-3",
        ),
        (
            "reg_diabetes_raw_adamw_3e-4",
            R,
            raw + model(MLP, in_features=10, out_features=1, hidden=64, head_scale=0.1) + adamw(3e-4) + wider(128),
            epochs(150),
            "raw targets, AdamW at 3e-4 (a slow memorisation curve)",
        ),
        (
            "reg_friedman_raw_adam_3e-4",
            R,
            data("data.friedman", n=2400, test_size=400)
            + model(MLP, in_features=10, out_features=1, hidden=64)
            + adam(3e-4)
            + wider(128),
            epochs(20),
            "Friedman #1 in raw units (mean 14), Adam at 3e-4",
        ),
    ]


def _head_scales() -> list[tuple]:
    def mlp(scale: float, out: int = 10, width: int = 128) -> list[str]:
        return model(MLP, in_features=64, out_features=out, hidden=width, head_scale=scale) + wider(2 * width)

    return [
        (
            "cls_digits_head_x0.01",
            C,
            data(DIGITS, num_classes=10) + mlp(0.01) + adamw(1e-3),
            epochs(10),
            "head weights x0.01 (near-zero head, a common choice)",
        ),
        (
            "cls_digits_head_x2",
            C,
            data(DIGITS, num_classes=10) + mlp(2.0) + adamw(1e-3),
            epochs(10),
            "head weights x2 (a little above PyTorch's default)",
        ),
        (
            "bin_digits_head_x0.3",
            B,
            data("saneloop.datasets.digits_binary") + mlp(0.3, out=1) + adam(1e-3),
            epochs(5),
            "a one-logit head at x0.3",
        ),
    ]


def _padded_gpt2() -> list[tuple]:
    def lines(side: str) -> list[str]:
        return ["data._target_=bench.zoo.text.padded_lines", f"+data.padding={side}"]

    return [
        (
            "hf_gpt2_fixed_length_right",
            GPT2,
            lines("right"),
            ["train.max_steps=300"],
            "GPT-2 on lines padded to 64 tokens (padding='max_length'): every item has padding",
        ),
        (
            "hf_gpt2_fixed_length_left",
            GPT2,
            lines("left"),
            ["train.max_steps=300"],
            "GPT-2 on lines left-padded to 64 tokens",
        ),
    ]
