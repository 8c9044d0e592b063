"""Bench cases of real training code (issue 12): Hugging Face collators and models misusing padding and
masks, run from the examples' config dirs (bench/suite.py CONFIG_DIR)."""

from __future__ import annotations

from typing import Any


def hf_bugs(Case: Any) -> list:  # noqa: N803 - the Case class, passed in to keep the import one way
    """Real training code (issue 12): Hugging Face collators and models misusing padding and masks."""
    collate, bert = "loader.train.collate_fn._target_=bench.plants.hf.", "model.model_class=bench.plants.hf."
    return [
        Case(
            "hf_loss_summed_over_tokens",
            "hf_gpt2",
            ["model.model_class=bench.plants.hf.SummedLossGPT2"],
            "model_loss",
            "the model's own loss summed, not averaged",
            "reduction='sum' over tokens in a model trained on its own loss (model_output.model_loss)",
        ),
        Case(
            "hf_labels_unmasked_at_padding",
            "hf_gpt2",
            [collate + "unmasked_labels_collator"],
            "labels_masked",
            "labels not masked at padding",
            "labels copied from the padded input_ids",
        ),
        Case(
            "hf_labels_shifted_twice",
            "hf_gpt2",
            [collate + "pre_shifted_labels_collator"],
            "targets",
            "labels shifted twice",
            "the data shifts the labels and GPT-2 shifts them again",
        ),
        Case(
            "hf_label_written_as_a_token",
            "hf_speakers",
            ["data._target_=bench.plants.hf.label_token"],
            "hidden_leak",
            "the label written as one token at the end of each text",
            "at a different position in every padded item: target_leak scores fixed positions",
        ),
        Case(
            "hf_label_token_setup_probe_off",
            "hf_speakers",
            ["data._target_=bench.plants.hf.label_token", "gates.hidden_leak.enabled=false"],
            "ceiling_explained",
            "the label token, with setup's probe turned off",
            "test accuracy at its ceiling, explained by one token",
        ),
        Case(
            "hf_attention_mask_ignored",
            "hf_speakers",
            [bert + "MaskIgnoredBert"],
            "padding_ignored",
            "attention mask ignored",
            "a wrapper's forward drops attention_mask",
        ),
        Case(
            "hf_one_samples_mask_for_all",
            "hf_speakers",
            [bert + "FirstMaskBert"],
            "padding_ignored",
            "one sample's mask applied to the whole batch",
            "attention_mask[:1] broadcast",
        ),
        Case(
            "hf_token_type_ids_as_mask",
            "hf_speakers",
            [bert + "MisroutedBert"],
            "padding_ignored",
            "a dict key misrouted",
            "token_type_ids (all 0) arrive as the attention mask",
        ),
    ]
