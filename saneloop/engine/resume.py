"""`resume=RUN_DIR`, the pipeline's half: continue a run in place from its latest complete checkpoint.

`load_resumed` loads the checkpoint, refuses one written with another config (naming every key
that differs) or by another number of processes, and returns it; the gates it recorded as passed
(`passed_gates`) are recorded again by the GateRunner without running them. `describe` tells the
report where the latest checkpoint is and how to resume from it. The command line's half (composing
the same config again) is `saneloop.cli.resume_argv`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf

from ..checks.base.verdict import Verdict
from ..config.schema import GatesConfig
from ..errors import InputError
from ..record.report import Report
from . import checkpoint
from .checkpoint import Resumed

# DataLoader arguments that change how fast batches come, not which (the order comes from the seeded
# sampler); a dataset that draws random augmentations per item draws them per worker, so for it the
# number of workers is one more reason a resume matches only up to that randomness (README).
SPEED_ONLY_LOADER_KEYS = ("num_workers", "pin_memory", "persistent_workers", "prefetch_factor")

# Keys that may differ between a checkpoint's config and the resumed run's: they change neither
# the numbers nor the data order, only how fast or how visibly the run goes (threads and workers,
# the progress bar, figures, what is saved and where; train.compile changes how a step runs, not what
# it computes, up to float rounding: a compiled run resumes eagerly and back, and so may a run on
# another number of threads); stop_after only says where the run ends (a run stopped after train
# resumes to evaluate with stop_after=null); the gates' time budget bounds gates a resumed run does not
# run again.
MAY_DIFFER = (
    "resume",
    "threads",
    "output.",
    "checkpoint.",
    "train.compile",
    "stop_after",
    "gates.budget_steps",
    "gates.budget_floor_s",
    *(f"loader.{split}.{key}" for split in ("train", "test") for key in SPEED_ONLY_LOADER_KEYS),
)
RESUME_COMMAND = "python -m saneloop resume={run_dir}"
NOT_RUN_AGAIN = "[passed before resume; not run again]"
_PLAIN = re.compile(r"^[\w./:@%+~-]+$")


def quoted(value: str) -> str:
    """`value` as one shell word (quoted only when it must be)."""
    return value if _PLAIN.match(value) else "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def load_resumed(
    resume: Optional[str], config: DictConfig, run_dir: Path, processes: int
) -> tuple[Optional[Resumed], list[str]]:
    """For `resume=RUN_DIR`: the checkpoint to continue from and what the report should note, or a
    refusal (InputError) saying why. It reads the run dir and writes nothing: a refused resume leaves
    the run it refused as it was."""
    if resume is None:
        return None, []
    asked = Path(str(resume)).expanduser()
    if asked.resolve() != run_dir.resolve():
        raise InputError(
            f"resume={resume} continues a run in its own dir, but this run writes to "
            f"{run_dir}; give hydra.run.dir={asked} or leave it out"
        )
    path, payload, passed_over = checkpoint.latest(asked)
    if payload is None:
        raise InputError(
            f"{asked} has no checkpoint to resume from{_why_none(asked, passed_over)}. "
            "Nothing to continue: start a new run (without resume=)"
        )
    differences = config_differences(
        OmegaConf.to_container(OmegaConf.create(payload["config"])), OmegaConf.to_container(config, resolve=True)
    )
    if differences:
        raise InputError(
            f"cannot resume {asked}: its checkpoint {path.name} was written with another "
            f"config: {'; '.join(differences)}. `{RESUME_COMMAND.format(run_dir=asked)}` "
            "resumes with the original overrides; to change these, start a new run"
        )
    if len(payload["rng"]) != processes:
        raise InputError(
            f"cannot resume {asked}: its checkpoint was written by "
            f"{len(payload['rng'])} process(es), this run has {processes}; launch it the same way"
        )
    notes = [
        f"resumed from {path} at train step {payload['step']} of {payload['total']}; "
        "gates passed before were recorded, not run again"
    ]
    return Resumed(path, payload), notes + passed_over


def config_differences(saved: dict, current: dict) -> list[str]:
    """`key is A there, B now` for every key (outside MAY_DIFFER) whose value differs. A gate added since
    the checkpoint was written, at its defaults, is no difference: it did not exist to be set then."""
    old, new = _flat(saved), _flat(current)
    absent, added = "(absent)", _gate_defaults()
    keys = sorted(
        k
        for k in old.keys() | new.keys()
        if not any(k == m or k.startswith(m) for m in MAY_DIFFER)
        and not (k not in old and k in added and new.get(k) == added[k])
    )
    return [
        f"{k} is {old.get(k, absent)} there, {new.get(k, absent)} now"
        for k in keys
        if old.get(k, absent) != new.get(k, absent)
    ]


def _gate_defaults() -> dict[str, Any]:
    """Every gate setting at its default, flattened as `gates.<gate>.<key>`."""
    return _flat({"gates": OmegaConf.to_container(OmegaConf.structured(GatesConfig))})


def passed_gates(payload: dict) -> dict[str, Verdict]:
    """The verdicts a checkpoint recorded as passed (or waived), marked as not run again."""
    found = {}
    for stage in json.loads(payload["gates"]):
        for g in stage["gates"]:
            if g["status"] in ("passed", "waived"):
                message = g["message"] if g["message"].endswith(NOT_RUN_AGAIN) else f"{g['message']} {NOT_RUN_AGAIN}"
                found[g["name"]] = Verdict(
                    g["name"], g["passed"], g["value"], g["expected"], message, g.get("tip", ""), g["status"]
                )
    return found


def describe(report: Report, run_dir: Path) -> None:
    """Put the latest checkpoint in the report, and how to resume when the run did not pass."""
    paths = checkpoint.complete(run_dir)
    if not paths:
        return
    info = dict(report.checkpoint or {})
    info.update(path=str(paths[-1]), step=int(paths[-1].stem.split("-")[1]), resume_command=None)
    if report.status in ("interrupted", "error"):
        info["resume_command"] = RESUME_COMMAND.format(run_dir=quoted(str(run_dir)))
    report.checkpoint = info


def _why_none(run_dir: Path, passed_over: list[str]) -> str:
    if passed_over:
        return f" that loads ({'; '.join(passed_over)})"
    earlier = _earlier_report(run_dir)
    if earlier and earlier.get("halted_at"):
        where = earlier["halted_at"]
        return f": that run halted at {where['stage']}/{where['gate']}, before train wrote one (see its report.json)"
    if earlier:
        return f": that run ended with status '{earlier.get('status')}' before train wrote one"
    return ""


def _earlier_report(run_dir: Path) -> Optional[dict]:
    try:
        return json.loads((run_dir / "report.json").read_text())
    except (OSError, ValueError):
        return None


def _flat(tree: Any, prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}"""
    if isinstance(tree, dict) and tree:
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}
