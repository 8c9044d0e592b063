"""Planted bugs of issue 22 (the halts it found missing) and issue 20 (fine-tuning), each naming the gate
expected to halt it, written before any gate changed (docs/bugbench.md, "issue 22 / issue 20 cases: before").

Some expectations name gates the other helpers of these issues are adding: `split_targets` (a test class or
target range training never has, in setup) and `finetune_lr` (a learning rate that destroys pretrained
features). `init_from` names the refusal before training (exit 2) of a load that left the model at its init.
"""

from __future__ import annotations

from typing import Any

from bench.zoo.cases import _value
from bench.zoo.finetune import weights_path

FT_DATA = ["~data", "+data={_target_: bench.zoo.finetune.digits_rest, num_classes: 10}"]


def _ft_model(target: str, **args: Any) -> list[str]:
    def text(v: Any) -> str:
        return f"[{', '.join(map(str, v))}]" if isinstance(v, list) else _value(v)

    items = ", ".join([f"_target_: {target}", *(f"{k}: {text(v)}" for k, v in args.items())])
    return ["~model", f"+model={{{items}}}", "gates.capacity.enabled=false"]


def issue22_bugs(Case: Any) -> list:  # noqa: N803 - the Case class, passed in to keep the import one way
    c, r = "classify", "regress"
    tokens = "bench.zoo.TokenTransformer, vocab_size: 20, out_features: 4, hidden: 32, max_len: 32"
    return [
        Case("cls_head_init_x20", c, ["+model.head_scale=20"], "init_loss", "#24 head init 20x too large"),
        Case(
            "cls_sorted_then_split",
            c,
            ["data._target_=bench.plants.halts22.sorted_split", "+data.source=saneloop.datasets.digits"],
            "classes_present",  # written as split_targets; the unseen classes are classes_present's (issue 22.4)
            "#5 sorted by label, split without shuffling",
            "test holds digits 8 and 9 only, training none of them",
        ),
        Case(
            "reg_sorted_then_split",
            r,
            ["data._target_=bench.plants.halts22.sorted_split", "+data.source=saneloop.datasets.diabetes"],
            "target_range",  # written as split_targets: the setup gate issue 22.4 added is named target_range
            "#5 sorted by target, split without shuffling",
            "test holds the largest 20% of the targets, all above training's range",
        ),
        Case(
            "cls_label_token_at_end",
            c,
            ["~data", "+data={_target_: bench.plants.halts22.label_token_at_end, num_classes: 4}"]
            + ["~model", f"+model={{_target_: {tokens}}}", "gates.capacity.wider={model.hidden: 64}"],
            "hidden_leak",  # written as target_leak, the only leak gate then; issue 22.5's token probe is hidden_leak
            "#3 label written as one token after each sequence",
            "at a different position in every padded item; the class shows weakly otherwise",
        ),
        Case(
            "hf_gpt2_causal_leak_fixed_length",
            "hf_gpt2",
            ["data._target_=bench.zoo.text.padded_lines", "+data.padding=right"]
            + ["model.model_class=bench.plants.hf.NextTokenLeakGPT2"],
            "causality",
            "#17 next token leaked into each position",
            "GPT-2 on lines padded to 64 tokens (padding='max_length')",
        ),
    ]


def finetune_bugs(Case: Any) -> list:  # noqa: N803
    c = "classify"
    digits = "bench.zoo.finetune.digits_mlp"
    ckpt = "bench.zoo.finetune.checkpoint_digits_mlp"
    return [
        Case(
            "ft_weights_prefixed",
            c,
            [*FT_DATA, *_ft_model(ckpt, name="bench_prefixed", prefix="encoder."), _path("bench_prefixed")],
            "init_from",
            "weights that did not load: a prefix",
            "the checkpoint's keys start with 'encoder.' (not a known wrapper prefix)",
        ),
        Case(
            "ft_head_renamed",
            c,
            [*FT_DATA, *_ft_model(ckpt, name="bench_renamed", head_name="classifier"), _path("bench_renamed")],
            "init_from",
            "weights that did not load: a renamed head",
            "the checkpoint calls the head 'classifier'",
        ),
        Case(
            "ft_label_order_mismatch",
            c,
            [*FT_DATA, *_ft_model(digits, label_order=[9, 8, 7, 6, 5, 4, 3, 2, 1, 0])],
            "init_loss",
            "pretrained head's label order is not the data's",
            "pretrained with the labels reversed: confidently wrong (test loss 17 at init)",
        ),
        Case(
            "ft_other_vocabulary",
            "charlm",
            ["~data", "+data={_target_: bench.zoo.finetune.shakespeare_rest, block_size: 32, vocab_size: 65}"]
            + _ft_model("bench.zoo.finetune.char_transformer", block_size=32, reverse=True),
            "init_loss",
            "fine-tuning text in another vocabulary than pretraining's",
            "pretrained on the play encoded with the vocabulary reversed",
        ),
        Case(
            "ft_head_reinitialised",
            c,
            [*FT_DATA, *_ft_model("bench.plants.halts22.reinit_after_load_mlp", name="bench_reinit")]
            + [_path("bench_reinit")],
            "init_loss",
            "trained head re-initialised by accident",
            "the model's load_state_dict resets the head after init_from loaded it",
        ),
        Case(
            "ft_everything_frozen",
            c,
            [*FT_DATA, *_ft_model("bench.plants.halts22.all_frozen_mlp")],
            "params_learn",
            "everything frozen",
            "requires_grad_(False) on the whole pretrained model",
        ),
        Case(
            "ft_lr_far_too_high",
            c,
            [*FT_DATA, *_ft_model(digits), "optim.lr=0.1"],
            "pretrained_lr",  # written as finetune_lr, before the gate existed; issue 20.2 named it pretrained_lr
            "#36 a from-scratch lr on a pretrained model",
            "AdamW at 0.1 on a model pretrained to test loss 0.36 (loss_decreases would be the older gate)",
        ),
        Case(
            "hf_gpt2_pad_is_eos",
            "hf_gpt2",
            ["data._target_=bench.plants.hf.lines_ending_in_eos"],
            "labels_masked",
            "pad token = EOS: every real EOS label masked",
            "transformers#23530, trl#976: lines end in EOS (id 0), the collator sets labels == pad id to -100",
        ),
    ]


def _path(name: str) -> str:
    return f"init_from.path={weights_path(name)}"
