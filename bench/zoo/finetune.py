"""The zoo's pretrained models (issue 20 item 5): model factories that start from weights pretrained offline.

A factory pretrains its model on a part of the data the fine-tuning run never sees (the first `skip` items
of the training split; the run trains on the rest, `*_rest` below), with a fixed seed and inside a forked
random state, so the run's own random streams are untouched; the weights are cached in a temp dir keyed by
everything that shapes them, and every build (the run's, the determinism gate's rebuild) reads the cached
file, so a first build and a later one give the same model. Then the factory does what a user's fine-tuning
code does: keep the trained head, put a fresh head on the body, freeze the body, or wrap the model in LoRA
adapters (`peft.get_peft_model`). `checkpoint_*` factories instead write the pretrained weights to a file
and return the fresh architecture, for `init_from.path` (README, "Start from pretrained weights").
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from saneloop.datasets.diabetes import diabetes
from saneloop.datasets.digits import digits
from saneloop.datasets.shakespeare import VOCAB, encode, read_text, windows
from saneloop.models import MLP, CharTransformer

CACHE = Path(tempfile.gettempdir()) / "saneloop-zoo-pretrained"
PRETRAIN_SEED = 1234


def weights_path(key: str) -> str:
    """Where a `checkpoint_*` factory writes the weights named `key` (init_from.path reads it)."""
    return str(CACHE / f"{key}.pt")


def _cached_state(spec: dict, build: Callable[[], nn.Module], data: Callable[[], tuple]) -> dict:
    """The pretrained state dict for `spec`, pretraining once (atomically written: bench workers share it)."""
    key = hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]
    path = CACHE / f"pretrained-{key}.pt"
    if not path.exists():
        with torch.random.fork_rng():
            torch.manual_seed(PRETRAIN_SEED)
            model = build()
            _pretrain(model, *data(), steps=spec["steps"], lr=spec["lr"], regression=spec.get("regression", False))
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{id(model)}.tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
    return torch.load(path, weights_only=True)


def _pretrain(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float, regression: bool) -> None:
    """Plain Adam on random batches of 64 (single-threaded CPU: the same weights every time)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(PRETRAIN_SEED)
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        out = model(x[idx])
        if regression:
            loss = F.mse_loss(out.reshape(-1), y[idx].reshape(-1))
        else:
            loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y[idx].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()


# --- the data: pretraining's part, and the rest the fine-tuning run trains on ---


def _digits_part(skip: int, classes: int, label_order: tuple[int, ...] | None) -> tuple:
    x, y = digits()[0][:skip]
    keep = y < classes
    x, y = x[keep], y[keep]
    if label_order:  # a pretraining run whose class k meant digit label_order[k]
        y = torch.tensor([label_order.index(int(v)) for v in y])
    return x, y


def digits_rest(skip: int = 400, train_size: int | None = None, split_seed: int = 0):
    """Digits after the `skip` items pretraining read (optionally only `train_size` of them); the usual test."""
    train, test = digits(split_seed=split_seed)
    x, y = train[skip:] if train_size is None else train[skip : skip + train_size]
    return TensorDataset(x, y), test


def diabetes_rest(skip: int = 150, target_shift: float = 152.0, target_scale: float = 77.0, split_seed: int = 0):
    train, test = diabetes(split_seed=split_seed, target_shift=target_shift, target_scale=target_scale)
    return TensorDataset(*train[skip:]), test


def shakespeare_rest(skip_chars: int = 200_000, block_size: int = 32, test_fraction: float = 0.1, vocab=VOCAB):
    """Tiny Shakespeare's training text after the first `skip_chars` (pretraining's), in windows; the usual test."""
    tokens = encode(read_text(), vocab)
    cut = int(len(tokens) * (1 - test_fraction))
    return windows(tokens[skip_chars:cut], block_size), windows(tokens[cut:], block_size)


# --- the factories ---


def _fine_tune(model: nn.Module, head: str, freeze_body: bool, lora_rank: int, head_name: str = "head") -> nn.Module:
    """What fine-tuning code does next: a fresh head (`head=new`), a frozen body, or LoRA adapters."""
    if head == "new":
        getattr(model, head_name).reset_parameters()
    if freeze_body:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(f"{head_name}."))
    if lora_rank:
        from peft import LoraConfig, get_peft_model

        linear = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and not n.startswith(head_name)]
        config = LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, target_modules=linear, modules_to_save=[head_name])
        return get_peft_model(model, config)
    return model


def digits_mlp(
    hidden: int = 128,
    skip: int = 400,
    pretrain_classes: int = 10,
    steps: int = 300,
    lr: float = 3e-3,
    head: str = "keep",
    freeze_body: bool = False,
    lora_rank: int = 0,
    label_order: tuple[int, ...] | None = None,
) -> nn.Module:
    """An MLP pretrained on the first `skip` training digits (classes below `pretrain_classes`), then fine-tuned:
    its trained head kept (`head=keep`) or a fresh 10-way head (`new`), the body frozen or not, LoRA or not."""
    order = tuple(label_order) if label_order else None
    spec = {"kind": "digits_mlp", "hidden": hidden, "skip": skip, "classes": pretrain_classes, "steps": steps}
    spec |= {"lr": lr, "label_order": order}

    def build() -> nn.Module:
        return MLP(64, 10, hidden=hidden)

    model = build()
    model.load_state_dict(_cached_state(spec, build, lambda: _digits_part(skip, pretrain_classes, order)))
    return _fine_tune(model, head, freeze_body, lora_rank)


def diabetes_mlp(hidden: int = 64, skip: int = 150, steps: int = 300, lr: float = 3e-3, head: str = "keep"):
    """A regression MLP pretrained on the first `skip` standardised diabetes rows (the run trains on the rest)."""
    spec = {"kind": "diabetes_mlp", "hidden": hidden, "skip": skip, "steps": steps, "lr": lr, "regression": True}

    def build() -> nn.Module:
        return MLP(10, 1, hidden=hidden)

    model = build()
    part = lambda: diabetes(target_shift=152.0, target_scale=77.0)[0][:skip]  # noqa: E731
    model.load_state_dict(_cached_state(spec, build, part))
    return _fine_tune(model, head, False, 0)


def char_transformer(
    dim: int = 32, layers: int = 2, block_size: int = 32, skip_chars: int = 200_000, steps: int = 400, reverse=False
):
    """A CharTransformer pretrained on the first `skip_chars` characters of the play, to be trained on the text
    after them; `reverse`: pretrained on the text encoded with VOCAB reversed (another vocabulary)."""
    vocab = VOCAB[::-1] if reverse else VOCAB
    spec = {"kind": "char_transformer", "dim": dim, "layers": layers, "block": block_size, "skip": skip_chars}
    spec |= {"steps": steps, "lr": 3e-3, "vocab": vocab}

    def build() -> nn.Module:
        return CharTransformer(len(VOCAB), block_size, dim=dim, layers=layers, heads=4)

    def part() -> tuple:
        return windows(encode(read_text(), vocab)[:skip_chars], block_size).tensors

    model = build()
    model.load_state_dict(_cached_state(spec, build, part))
    return model


def checkpoint_digits_mlp(name: str, prefix: str = "", head_name: str = "head", hidden: int = 128, skip: int = 400):
    """Write the pretrained digits MLP's weights to weights_path(name) (keys with `prefix`, the head saved as
    `head_name`, as another training script saved them) and return the fresh architecture for init_from."""
    state = digits_mlp(hidden=hidden, skip=skip).state_dict()
    state = {(head_name + k[4:] if k.startswith("head.") else k): v for k, v in state.items()}
    path = Path(weights_path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{id(state)}.tmp")
    torch.save({prefix + k: v for k, v in state.items()}, tmp)
    tmp.replace(path)
    return MLP(64, 10, hidden=hidden)
