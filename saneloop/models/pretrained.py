"""Start a model from pretrained weights, and say exactly which of them it took.

The classic silent bug of fine-tuning is weights that did not load (a `module.` or `_orig_mod.` prefix, a
renamed head, `strict=False`) and a run that trains happily from random init. Here a checkpoint is read
(never downloaded), the known wrapper prefixes are stripped, its keys and shapes are matched with the
model's, and a load that leaves most of the model at its init, or whose shapes disagree, is refused with
the keys named and the likely cause. Keys declared new (a head for a new task) stay at their init.
Pure: no config; `key` names the setting in messages.
"""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError

WRAPPER_PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel / Accelerate, torch.compile
RUN_WEIGHTS = "model.safetensors"  # what a saneloop run (evaluate) and save_pretrained write
TORCH_SUFFIXES = (".pt", ".pth", ".bin")
NESTED = ("model", "state_dict", "model_state_dict")  # training checkpoints that hold the weights one level down
SHOWN = 8  # keys named in a message before "... and N more"

State = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Loaded:
    """Which of the model's keys came from the checkpoint: what later gates read to know a part is pretrained."""

    source: str  # the file or folder read, and how
    loaded: tuple[str, ...]  # the model's keys set from the checkpoint (tied aliases of a loaded tensor too)
    missing: tuple[str, ...]  # the model's keys the checkpoint lacks, not declared new: left at their init
    unexpected: tuple[str, ...]  # the checkpoint's keys the model has no place for: not used
    new: tuple[str, ...]  # the model's keys declared new: left at their init on purpose
    stripped: tuple[str, ...] = ()  # wrapper prefixes taken off the checkpoint's keys
    share: float = 1.0  # the share of the model's parameter elements (outside `new`) that loaded

    def summary(self) -> str:
        """One paragraph for the report and the console."""
        parts = [f"{len(self.loaded)} keys loaded ({self.share:.1%} of the parameters outside init_from.new)"]
        if self.stripped:
            parts.append(f"prefix {', '.join(repr(p) for p in self.stripped)} stripped from the checkpoint's keys")
        if self.new:
            parts.append(f"{len(self.new)} declared new, left at init: {_names(self.new)}")
        if self.missing:
            parts.append(f"{len(self.missing)} missing, left at init: {_names(self.missing)}")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected, not used: {_names(self.unexpected)}")
        return f"init_from {self.source}: " + "; ".join(parts)


def load_pretrained(
    model: nn.Module, path: str, new: Sequence[str] = (), min_loaded: float = 0.5, key: str = "init_from"
) -> Loaded:
    """Read `path` into `model` (in place) and say what loaded; InputError, before anything changes, when
    the path is absent or unreadable, a shape disagrees, or too little of the model would load."""
    state, source = read_state(Path(path).expanduser(), model, f"{key}.path")
    model_state = model.state_dict()
    state, stripped = strip_prefixes(state, set(model_state))
    loaded = match(model, state, new, stripped, source)
    _refuse_bad_match(model_state, state, loaded, min_loaded, key)
    model.load_state_dict({k: state[k] for k in loaded.loaded if k in state}, strict=False)
    return loaded


def read_state(path: Path, model: nn.Module, key: str) -> tuple[State, str]:
    """The tensors stored at `path` (file or folder), and a description of what was read."""
    if not path.exists():
        raise InputError(
            f"{key}={path} does not exist; give a local saneloop run dir, save_pretrained folder, "
            ".safetensors file or torch state dict (nothing is downloaded)"
        )
    if path.is_dir():
        return _read_folder(path, model, key)
    return _read_file(path, key), f"{path}"


def _read_folder(path: Path, model: nn.Module, key: str) -> tuple[State, str]:
    """A save_pretrained folder through the model class's own `from_pretrained` (offline) when the model is
    a transformers model; otherwise (or for a saneloop run dir) its weights file."""
    if (path / "config.json").exists() and callable(getattr(type(model), "from_pretrained", None)):
        return _from_pretrained(path, model, key), f"{path} ({type(model).__name__}.from_pretrained, offline)"
    for name in (RUN_WEIGHTS, "pytorch_model.bin"):
        if (path / name).exists():
            return _read_file(path / name, key), f"{path / name}"
    for index in (f"{RUN_WEIGHTS}.index.json", "pytorch_model.bin.index.json"):
        if (path / index).exists():
            return _read_shards(path, index, key), f"{path / index}"
    held = sorted(p.name for p in path.iterdir())[:SHOWN]
    raise InputError(
        f"{key}={path} holds no weights ({RUN_WEIGHTS} or pytorch_model.bin); it holds {held}. A saneloop run "
        "saves model.safetensors at the end of evaluate (output.save_weights=true); a checkpoint of its train "
        "stage can be named as a file: checkpoints/step-NNNNNNNN.pt"
    )


def _from_pretrained(path: Path, model: nn.Module, key: str) -> State:
    try:
        pretrained = type(model).from_pretrained(str(path), local_files_only=True)
    except Exception as err:  # noqa: BLE001 - a foreign or partial folder: one clear message naming it
        raise InputError(f"{key}={path}: {type(model).__name__}.from_pretrained could not read it: {err}") from err
    return pretrained.state_dict()


def _read_shards(path: Path, index: str, key: str) -> State:
    files = sorted(set(json.loads((path / index).read_text()).get("weight_map", {}).values()))
    state: State = {}
    for name in files:
        state.update(_read_file(path / name, key))
    return state


def _read_file(path: Path, key: str) -> State:
    """A .safetensors file, or a torch state dict read with weights_only=True (no code runs from it)."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        if path.suffix not in TORCH_SUFFIXES:
            raise InputError(
                f"{key}={path}: unknown weights format {path.suffix!r}; give .safetensors, "
                f"{'/'.join(TORCH_SUFFIXES)}, a save_pretrained folder or a saneloop run dir"
            )
        return _tensors(torch.load(path, map_location="cpu", weights_only=True), path, key)
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - a corrupt or foreign file: one clear message naming it
        raise InputError(f"{key}={path} could not be read as weights: {type(err).__name__}: {err}") from err


def _tensors(obj: object, path: Path, key: str) -> State:
    """The state dict in what torch.load returned: itself, or one level down in a training checkpoint."""
    if isinstance(obj, dict):
        for name in NESTED:
            if isinstance(obj.get(name), dict):
                obj = obj[name]
                break
    if not isinstance(obj, dict) or not any(isinstance(v, torch.Tensor) for v in obj.values()):
        raise InputError(
            f"{key}={path} holds a {type(obj).__name__}, not a state dict of tensors; save model.state_dict()"
        )
    return {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def strip_prefixes(state: State, model_keys: set[str]) -> tuple[State, tuple[str, ...]]:
    """The checkpoint's keys without the wrapper prefixes the model's keys do not have, and which were taken off."""
    stripped: list[str] = []
    out: State = {}
    for name, tensor in state.items():
        while name not in model_keys and name.startswith(WRAPPER_PREFIXES):
            prefix = next(p for p in WRAPPER_PREFIXES if name.startswith(p))
            name = name[len(prefix) :]
            stripped += [prefix] if prefix not in stripped else []
        out[name] = tensor
    return out, tuple(stripped)


def match(model: nn.Module, state: State, new: Sequence[str], stripped: tuple[str, ...], source: str) -> Loaded:
    """Which of the model's keys the checkpoint sets, which it lacks, and which of its own keys go unused."""
    model_state = model.state_dict()
    declared = tuple(k for k in model_state if _covered(k, new))
    present = [k for k in model_state if k in state and k not in declared]
    missing = [k for k in model_state if k not in state and k not in declared]
    tied = _aliases(model_state, set(present))
    unexpected = tuple(k for k in state if k not in model_state and not _covered(k, new))
    loaded = tuple(present + [k for k in missing if k in tied])
    missing = [k for k in missing if k not in tied]
    return Loaded(source, loaded, tuple(missing), unexpected, declared, stripped, _share(model, loaded, declared))


def _covered(name: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, glob) for glob in globs)


def _aliases(model_state: State, present: set[str]) -> set[str]:
    """Keys whose tensor is the same storage as a present key's (tied weights: GPT-2's lm_head and wte)."""
    pointers = {model_state[k].data_ptr() for k in present if model_state[k].numel()}
    return {k for k, v in model_state.items() if v.numel() and v.data_ptr() in pointers}


def _share(model: nn.Module, loaded: tuple[str, ...], declared: tuple[str, ...]) -> float:
    """The share of the parameter elements outside `declared` that loaded (each tied tensor counted once)."""
    params = dict(model.named_parameters())  # named_parameters lists a tied tensor once
    counted = {k: p.numel() for k, p in params.items() if k not in declared}
    pointers = {params[k].data_ptr() for k in loaded if k in params}
    total = sum(counted.values())
    done = sum(n for k, n in counted.items() if params[k].data_ptr() in pointers)
    return done / total if total else 0.0


def _refuse_bad_match(model_state: State, state: State, loaded: Loaded, min_loaded: float, key: str) -> None:
    """Refuse a load that would train from what is mostly random init, naming the keys and the likely cause."""
    wrong = [k for k in loaded.loaded if k in state and state[k].shape != model_state[k].shape]
    if wrong:
        shapes = ", ".join(f"{k} {tuple(state[k].shape)} vs {tuple(model_state[k].shape)}" for k in wrong[:SHOWN])
        raise InputError(
            f"{key}: {len(wrong)} shapes disagree (checkpoint vs model): {shapes}{_more(wrong)}. Likely cause: "
            f"another architecture or size than the model's; or a new head: declare it in {key}.new=[glob]"
        )
    renamed = _renamed(model_state, state, loaded)
    reasons = [_renamed_text(renamed)] if renamed else []
    if loaded.share < min_loaded or not loaded.loaded:
        reasons.insert(
            0,
            f"only {loaded.share:.1%} of the model's parameters (outside {key}.new) would load, "
            f"below {key}.min_loaded={min_loaded}",
        )
    if reasons:
        raise InputError(
            f"{key}: {'; '.join(reasons)}. Missing: {_names(loaded.missing)}; unexpected: "
            f"{_names(loaded.unexpected)}. Likely cause: {_cause(loaded, renamed, loaded.share >= min_loaded, key)}"
        )


def _renamed(model_state: State, state: State, loaded: Loaded) -> list[tuple[str, str]]:
    """(checkpoint key, model key) pairs where a missing key's shape is an unused key's: a layer renamed
    (keys that differ by a prefix only are the prefix's, not a rename)."""
    prefixed = {key for _, _, missing, unused in _prefixed(loaded) for key in (missing, unused)}
    unused = [u for u in loaded.unexpected if u not in prefixed]
    pairs = []
    for name in (m for m in loaded.missing if m not in prefixed):
        twins = [u for u in unused if state[u].shape == model_state[name].shape]
        if twins:
            pairs.append((twins[0], name))
    return pairs


def _renamed_text(renamed: list[tuple[str, str]]) -> str:
    pairs = ", ".join(f"{a} -> {b}" for a, b in renamed[:SHOWN])
    return f"{len(renamed)} missing keys have the shape of an unused checkpoint key ({pairs}{_more(renamed)})"


def _cause(loaded: Loaded, renamed: list[tuple[str, str]], enough: bool, key: str) -> str:
    prefix = _common_prefix(loaded)
    if prefix is not None:
        side, text = prefix
        return (
            f"the {side}'s keys carry the prefix {text!r} that the other's lack: strip it from the state dict "
            "(or save the inner module's state_dict)"
        )
    if renamed and enough:
        return (
            "a layer renamed between the checkpoint and the model (rename the keys), or a new head: declare "
            f"it in {key}.new=[{renamed[0][1].rsplit('.', 1)[0]}.*] to keep its init"
        )
    return "the checkpoint is of another architecture than the model (model._target_ and its settings)"


def _common_prefix(loaded: Loaded) -> tuple[str, str] | None:
    """('checkpoint' | 'model', prefix) when most missing keys are unused keys with a prefix added or removed."""
    found = Counter((side, prefix) for side, prefix, _, _ in _prefixed(loaded))
    if not found:
        return None
    best, count = found.most_common(1)[0]
    return best if count >= max(1, len(loaded.missing) // 2) else None


def _prefixed(loaded: Loaded) -> list[tuple[str, str, str, str]]:
    """(side, prefix, missing key, unused key) for each unused key that is a missing key with a prefix added
    (side 'checkpoint'), or the other way round (side 'model')."""
    found = []
    missing, unused = set(loaded.missing), set(loaded.unexpected)
    for name in loaded.unexpected:
        found += [("checkpoint", name[: i + 1], name[i + 1 :], name) for i in _dots(name) if name[i + 1 :] in missing]
    for name in loaded.missing:
        found += [("model", name[: i + 1], name, name[i + 1 :]) for i in _dots(name) if name[i + 1 :] in unused]
    return found


def _dots(name: str) -> list[int]:
    return [i for i, char in enumerate(name) if char == "."]


def _names(keys: Sequence[str]) -> str:
    return ", ".join(keys[:SHOWN]) + _more(keys) if keys else "none"


def _more(items: Sequence[object]) -> str:
    return f" ... and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
