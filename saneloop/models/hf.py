"""Hugging Face `transformers` models as they are, built from a small config: no download, no hub.

    model:
      _target_: saneloop.models.hf.from_config
      model_class: GPT2LMHeadModel          # any transformers class, or a dotted path to a subclass
      vocab_size: ${data.vocab_size}
      n_embd: 64
      n_layer: 2

The keys beside `model_class` are the model's config (`GPT2Config(...)`, `BertConfig(...)`): the
architecture only, weights initialised as the library does. Needs the optional extra:
`pip install "saneloop[hf]"`.
"""

from __future__ import annotations

from typing import Any

from hydra.utils import get_class
from torch import nn

from ..errors import InputError

INSTALL = 'pip install "saneloop[hf]" (or pip install transformers)'


def transformers_module() -> Any:
    """The `transformers` package, or an InputError saying how to install it."""
    try:
        import transformers
    except ImportError:
        raise InputError(
            f"this model is built with Hugging Face transformers, which is not installed: {INSTALL}"
        ) from None
    return transformers


def from_config(model_class: str, **config: Any) -> nn.Module:
    """`model_class(model_class.config_class(**config))`: a freshly initialised model, nothing downloaded."""
    transformers = transformers_module()
    cls = getattr(transformers, model_class, None) if "." not in model_class else get_class(model_class)
    if cls is None:
        raise InputError(
            f"model.model_class={model_class!r} is not a transformers class; give one (e.g. GPT2LMHeadModel, "
            "BertForSequenceClassification) or a dotted path to your subclass"
        )
    config_class = getattr(cls, "config_class", None)
    if config_class is None:
        raise InputError(f"model.model_class={model_class} has no config_class; give a transformers model class")
    try:
        built = config_class(**_plain(config))
    except (TypeError, ValueError) as err:
        raise InputError(f"could not build {config_class.__name__} from model.*: {err}") from err
    return cls(built)


def _plain(config: dict[str, Any]) -> dict[str, Any]:
    """OmegaConf containers (nested config values) as plain Python, which transformers configs expect."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return {k: OmegaConf.to_container(v) if isinstance(v, (DictConfig, ListConfig)) else v for k, v in config.items()}
