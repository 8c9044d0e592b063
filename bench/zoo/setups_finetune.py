"""Issue 20 item 5: correct fine-tuning setups (expected: pass on seeds 0-4), written before any gate knew
what "pretrained" means. Rows as in setups.py; the pretrained models come from bench/zoo/finetune.py
(pretrained offline, deterministically, on data the run never trains or tests on).

Continued training of a classifier pretrained on part of the data (three learning rates, two data sizes),
a new head on a pretrained body (trainable and frozen), LoRA adapters (peft) with the trained head and with
a new one, weights given through `init_from.path` (a `module.` prefix to strip; a head declared new), a
pretrained regressor and a pretrained character language model trained on more of their data.
"""

from __future__ import annotations

from .cases import NO_WIDTH, adam, adamw, data, epochs, model, steps, wider
from .finetune import weights_path

C, R, LM = "classify", "regress", "charlm"
DIGITS_REST = data("finetune.digits_rest", num_classes=10)


def _lora_wider(rank: int) -> list[str]:
    # more capacity: a higher adapter rank at the same width (merged into the recipe's {model.hidden: 512})
    return [f"++gates.capacity.wider={{model.hidden: 128, model.lora_rank: {rank}}}"]


def finetune() -> list[tuple]:
    return [*_continued(), *_new_heads(), *_adapters(), *_init_from(), *_other_recipes()]


def _continued() -> list[tuple]:
    mlp = model("finetune.digits_mlp", hidden=128) + wider(256)
    return [
        (
            "ft_digits_continue",
            C,
            DIGITS_REST + mlp + adamw(1e-3),
            epochs(10),
            "an MLP pretrained on 400 digits (test loss 0.36 at init), trained on the other 948",
        ),
        (
            "ft_digits_continue_lr_1e-4",
            C,
            DIGITS_REST + mlp + adam(1e-4),
            epochs(10),
            "continued training at Adam 1e-4",
        ),
        (
            "ft_digits_continue_200_items",
            C,
            data("finetune.digits_rest", num_classes=10, train_size=200) + mlp + adamw(3e-4),
            epochs(40),
            "continued training on 200 new digits, AdamW 3e-4",
        ),
    ]


def _new_heads() -> list[tuple]:
    body = {"hidden": 128, "pretrain_classes": 5, "head": "new"}
    return [
        (
            "ft_digits_new_head",
            C,
            DIGITS_REST + model("finetune.digits_mlp", **body) + adamw(1e-3) + wider(256),
            epochs(10),
            "a body pretrained on digits 0-4, a fresh 10-way head, all trained",
        ),
        (
            "ft_digits_frozen_body",
            C,
            DIGITS_REST + model("finetune.digits_mlp", **body, freeze_body=True) + adam(3e-3) + wider(256),
            epochs(15),
            "the same body frozen under a fresh head (a linear probe, 1,290 trainable parameters)",
        ),
    ]


def _adapters() -> list[tuple]:
    return [
        (
            "ft_digits_lora_r4",
            C,
            DIGITS_REST + model("finetune.digits_mlp", hidden=128, lora_rank=4) + adamw(3e-3) + _lora_wider(8),
            epochs(10),
            "LoRA rank 4 on the body's linear layers (peft), the trained head trainable",
        ),
        (
            "ft_digits_lora_r8_new_head",
            C,
            DIGITS_REST
            + model("finetune.digits_mlp", hidden=128, lora_rank=8, pretrain_classes=5, head="new")
            + adamw(1e-3)
            + _lora_wider(16),
            epochs(10),
            "LoRA rank 8 on a body pretrained on digits 0-4, a fresh head",
        ),
    ]


def _init_from() -> list[tuple]:
    def weights(key: str, **args) -> list[str]:
        return model("finetune.checkpoint_digits_mlp", name=key, **args) + [f"init_from.path={weights_path(key)}"]

    return [
        (
            "ft_digits_init_from_module_prefix",
            C,
            DIGITS_REST + weights("zoo_digits_module", prefix="module.") + adamw(1e-3) + NO_WIDTH,
            epochs(10),
            "init_from.path: weights saved from a DDP-wrapped model ('module.' stripped)",
        ),
        (
            "ft_digits_init_from_new_head",
            C,
            DIGITS_REST + weights("zoo_digits_plain") + ["init_from.new=[head.*]"] + adamw(1e-3) + NO_WIDTH,
            epochs(10),
            "init_from.path with the head declared new (init_from.new=[head.*]): body loaded, head fresh",
        ),
    ]


def _other_recipes() -> list[tuple]:
    return [
        (
            "ft_diabetes_continue",
            R,
            data("finetune.diabetes_rest", target_shift=152.0, target_scale=77.0)
            + model("finetune.diabetes_mlp", hidden=64)
            + adamw(1e-3)
            + wider(128),
            epochs(30),
            "a regressor pretrained on 150 diabetes rows, trained on the other 181",
        ),
        (
            "ft_charlm_continue",
            LM,
            data("finetune.shakespeare_rest", block_size=32, vocab_size=65)
            + model("finetune.char_transformer", block_size=32)
            + adamw(1e-3)
            + NO_WIDTH,
            steps(300),
            "a CharTransformer pretrained on the first 200,000 characters, trained on the rest",
        ),
    ]
