"""Gate `full_pass`: every training item that epoch 1 of `train` reads holds finite inputs and targets,
and the target setup read for it.

Setup checks the inputs of a random sample (`inputs_finite`) and every target; this gate checks every
item, on the batches training reads anyway. The check runs where the batch is collated (in the
DataLoader's workers when there are any), so the train loop pays one type test per step; the first
bad batch stops the run before the optimizer step on it, naming its items. In-memory tensors were
checked whole in setup: the gate then says so and checks nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from ..data.batch import Batch
from ..data.inspection import BadBatch
from .base.gate import Gate
from .base.settings import GateSettings
from .base.verdict import Verdict, failed, passed

TIP = "data checks (recipe step 1: become one with the data), on every item"
_LISTED = 8


@dataclass
class FullPassSettings(GateSettings):
    pass


class BatchInspector:
    """What is wrong with one collated training batch (None: nothing). Picklable, for workers.

    `stored`: the targets setup read without the items (dataset.targets), so each item's own target
    is compared with the one the targets gate judged; None when setup read them from the items.
    """

    def __init__(self, stored: Optional[torch.Tensor] = None) -> None:
        self.stored = stored

    def __call__(self, batch: Batch, error: Optional[Exception] = None) -> Optional[list[str]]:
        items = batch.indices.tolist() if batch.indices is not None else []
        if error is not None:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            return [f"they cannot be collated into one batch ({type(error).__name__}: {first})"]
        problems = [f"input `{name}` holds NaN or Inf" + _at(rows, items) for name, rows in _nonfinite_inputs(batch)]
        targets = batch.targets
        if isinstance(targets, torch.Tensor) and targets.dim() >= 1:
            rows = _nonfinite_rows(targets)
            if rows:
                problems.append("the target holds NaN or Inf" + _at(rows, items))
            if self.stored is not None and items:
                differ = _differing(targets, self.stored[torch.tensor(items)])
                if differ:
                    problems.append(
                        "its target differs from the stored one the targets gate judged" + _at(differ, items)
                    )
        return problems or None


def _nonfinite_inputs(batch: Batch) -> list[tuple[str, list[int]]]:
    found = []
    for name, tensor in batch.named_inputs():
        if tensor.is_floating_point() and tensor.dim() >= 1:
            rows = _nonfinite_rows(tensor)
            if rows:
                found.append((name, rows))
    return found


def _nonfinite_rows(tensor: torch.Tensor) -> list[int]:
    if not tensor.is_floating_point() or bool(torch.isfinite(tensor).all()):
        return []
    return (~torch.isfinite(tensor.reshape(len(tensor), -1)).all(1)).nonzero().flatten().tolist()


def _differing(targets: torch.Tensor, stored: torch.Tensor) -> list[int]:
    if targets.shape != stored.shape:
        return list(range(len(targets)))
    same = targets == stored.to(targets.dtype)
    return (~same.reshape(len(same), -1).all(1)).nonzero().flatten().tolist()


def _at(rows: list[int], items: list[int]) -> str:
    named = [items[r] for r in rows] if items else rows
    more = f" (+{len(named) - _LISTED} more)" if len(named) > _LISTED else ""
    return f" at train items {named[:_LISTED]}{more}"


def rejected(indices: list[int], problems: list[str], step: int, epoch_batch: int, sampled: int) -> Verdict:
    """The verdict on a batch the inspection rejected: the run stops before optimizer step `step + 1`."""
    return failed(
        GATE,
        len(indices),
        0,
        f"batch {epoch_batch + 1} of epoch 1 (train items {indices[:_LISTED]}"
        f"{' ...' if len(indices) > _LISTED else ''}): {'; '.join(problems)}. Halted before optimizer "
        f"step {step + 1} ({step} steps taken, none on this batch). Setup's random sample of {sampled:,} "
        "items did not include these. Likely causes: a corrupt or truncated file, a value missing in "
        "the source, a transform that divides by zero on some items, targets listed apart from the "
        "files (dataset.targets out of step).",
        TIP,
        items=indices[:100],
        step=step,
    )


def met_by(reader: str, indices: list[int], problems: list[str]) -> Verdict:
    """The verdict on a bad batch read before `train` by `reader` ("gate init_loss", "stage setup"):
    the reader's own verdict would blame the model."""
    return failed(
        GATE,
        len(indices),
        0,
        f"{reader} read training items whose data are bad (train items {indices[:_LISTED]}"
        f"{' ...' if len(indices) > _LISTED else ''}): {'; '.join(problems)}. Setup's random sample "
        "did not include them; fix the data before judging the model. Likely causes: a corrupt or "
        "truncated file, a value missing in the source, a transform that divides by zero on some items.",
        TIP,
        items=indices[:100],
        read_by=reader,
    )


def explain_bad_batch(bad: BadBatch, reader: str) -> Verdict:
    """A batch whose data were rejected wherever it was read (a gate, a stage's probe): this gate's verdict."""
    return met_by(reader, bad.rejected.indices, bad.rejected.problems)


def went_by(seen: int, total: int, whole_epoch: bool, resumed: bool) -> Verdict:
    """The verdict once epoch 1 is over (or training stopped within it)."""
    how = "in epoch 1" if whole_epoch else f"before train stopped within epoch 1 ({total - seen:,} not read)"
    since = " since the resume" if resumed else ""
    return passed(
        GATE,
        seen,
        total,
        f"{seen:,} of {total:,} training items read {how}{since}: every input and target finite, every "
        "target the one setup judged",
        TIP,
    )


def checked_in_setup(total: int, how: str) -> Verdict:
    """Setup read every training item already (in-memory tensors, or a dataset read whole)."""
    return passed(GATE, total, total, f"setup checked all {total:,} training items ({how}); nothing left to read", TIP)


GATE = Gate(
    name="full_pass",
    stage="train",
    settings=FullPassSettings,
    tip=TIP,
    what="epoch 1 checks every training item setup did not; the first bad batch halts before its step",
    checks=(BatchInspector,),
    event="each batch of epoch 1, before its step",
    explains=BadBatch,
    explain=explain_bad_batch,
)
