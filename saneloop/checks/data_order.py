"""Gates `data_order` and `resume_order`: with shuffling on, each epoch's order differs from the
last; after a resume, the order continues as it would have without the interruption.

A sampler whose epoch never advances (`DistributedSampler.set_epoch` never called, pytorch #31771; a
generator re-seeded inside `__iter__`) replays one order every epoch; a resumed run that restarts
the epoch count replays epoch 0's order (accelerate #2016, #3242). Training still converges, a
little worse, and no one notices. The train loop's batches are fingerprinted (a CRC of the first
batches of every epoch, a few bytes each, kept in the checkpoint); after a resume, the first
batches drawn must be those an uninterrupted run draws there (a fresh loader with the run's seed,
iterated over dataset indices only, gives them).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.utils.data import SequentialSampler

from ..data.batch import Batch
from .gate import Gate
from .settings import GateSettings, bounded
from .verdict import Verdict, failed, passed, skipped

TIP = "a new order every epoch, and the same order after a resume"
CAUSES = (
    "a sampler whose epoch never advances (DistributedSampler.set_epoch never called, a generator "
    "seeded inside __iter__), a loader re-created each epoch with the same seed, a resume that restores "
    "the model but not the sampler's state (its own epoch counter restarts at 0)"
)


@dataclass
class DataOrderSettings(GateSettings):
    batches: int = bounded(2, low=1)  # first batches of each epoch compared


@dataclass
class ResumeOrderSettings(GateSettings):
    batches: int = bounded(2, low=1)  # first batches after a resume compared with the uninterrupted order


def fingerprint(batch: Batch) -> int:
    """A CRC of the batch's targets (its main input when it has none): equal batches give equal numbers in
    any process, and a random augmentation of the inputs does not change it."""
    value = batch.targets if isinstance(batch.targets, torch.Tensor) else batch.first_input
    if not isinstance(value, torch.Tensor):
        return 0
    return zlib.crc32(value.detach().cpu().contiguous().numpy().tobytes())


def shuffled(loader: Any) -> bool:
    """False when the sampler that decides the order is sequential: the order is meant to repeat.

    The innermost batch sampler's sampler decides (a DataLoader given a batch_sampler, as Accelerate's
    prepared loaders are, still carries a SequentialSampler that is never used)."""
    inner = getattr(loader, "batch_sampler", None)
    while getattr(inner, "batch_sampler", None) is not None:
        inner = inner.batch_sampler
    sampler = getattr(inner, "sampler", None) if inner is not None else getattr(loader, "sampler", None)
    return not isinstance(sampler, SequentialSampler)


@dataclass
class OrderWatch:
    """Fingerprints the first batches of every epoch the train loop iterates, and judges them.

    `gates(name, compute)` is the run's gate runner: `data_order` is judged once the second epoch has
    begun, `resume_order` once a resumed run has drawn its first batches. `uninterrupted(epoch, offset,
    count)` gives the fingerprints of the batches an uninterrupted run draws there (a fresh loader with
    the run's seed, iterated over indices only), or None where it cannot be known.
    """

    gates: Callable[[str, Callable[[Any], Verdict]], Verdict]
    settings: Any  # the run's GatesConfig
    loader: Any
    uninterrupted: Callable[[int, int, int], Optional[list[int]]]
    epochs: list[list[int]] = field(default_factory=list)
    judged: bool = False
    resumed: Optional[tuple[int, int]] = None  # (epoch, batch offset) a resumed run continues at

    def state(self) -> dict[str, Any]:
        return {"epochs": [list(e) for e in self.epochs]}

    def restore(self, payload: Optional[dict[str, Any]], epoch: int, offset: int) -> None:
        if payload is not None:
            self.epochs = [list(e) for e in (payload.get("order") or {}).get("epochs", [])]
            self.resumed = (epoch, offset)

    def epoch(self, batches: Iterable[Batch], epoch: int) -> Iterator[Batch]:
        """The epoch's batches, unchanged; the first few fingerprinted (and judged once there are enough)."""
        want, again = self.settings.data_order.batches, self.settings.resume_order.batches
        while len(self.epochs) <= epoch:
            self.epochs.append([])
        resumed, self.resumed = self.resumed, None
        start = resumed[1] if resumed is not None else 0
        seen, got = self.epochs[epoch], []
        for k, batch in enumerate(batches, start):
            if resumed is not None and len(got) < again:
                got.append(fingerprint(batch))
                if len(got) == again:
                    self.gates(RESUME_ORDER, lambda s: self._resume_verdict(resumed, got))
            if k == len(seen) and k < want:
                seen.append(fingerprint(batch))
                if k + 1 == want and epoch >= 1 and not self.judged and shuffled(self.loader):
                    self.judged = True
                    self.gates(DATA_ORDER, lambda s: self._order_verdict(epoch, want))
            yield batch

    def unjudged(self) -> Verdict:
        """The verdict of a run that never compared two epochs: why not."""
        if not shuffled(self.loader):
            return skipped("data_order", "the training loader does not shuffle (a sequential sampler)", TIP)
        return skipped("data_order", f"{len(self.epochs)} epoch(s) begun: no two epochs to compare", TIP)

    def _order_verdict(self, epoch: int, want: int) -> Verdict:
        now, before = self.epochs[epoch][:want], self.epochs[epoch - 1][:want]
        if now != before:
            return passed(
                "data_order", 0, 0, f"epoch {epoch}'s first {want} batches differ from epoch {epoch - 1}'s", TIP
            )
        return failed(
            "data_order",
            1,
            0,
            f"with shuffling on, epoch {epoch} starts with the same {want} batches as epoch {epoch - 1}: the "
            f"order repeats every epoch. Likely causes: {CAUSES}. <gates.data_order.batches={want}>",
            TIP,
        )

    def _resume_verdict(self, resumed: tuple[int, int], got: list[int]) -> Verdict:
        epoch, offset = resumed
        expected = self.uninterrupted(epoch, offset, len(got))
        where = f"epoch {epoch}, batches {offset}..{offset + len(got) - 1}"
        if expected is None:
            return passed(
                "resume_order",
                0,
                0,
                f"resumed at {where}: the uninterrupted order cannot be drawn here (several processes)",
                TIP,
            )
        if expected == got:
            return passed(
                "resume_order", 0, 0, f"resumed at {where}: the batches are those an uninterrupted run draws there", TIP
            )
        replay = [e for e in range(epoch) if self.uninterrupted(e, offset, len(got)) == got]
        said = f" (they are epoch {replay[0]}'s instead: the order restarted)" if replay else ""
        return failed(
            "resume_order",
            sum(a != b for a, b in zip(got, expected)),
            0,
            f"after the resume, the batches at {where} are not those an uninterrupted run draws there{said}. "
            f"Likely causes: {CAUSES}. <gates.resume_order.batches={self.settings.resume_order.batches}>",
            TIP,
        )


DATA_ORDER = Gate(
    name="data_order",
    stage="train",
    settings=DataOrderSettings,
    tip=TIP,
    what="with shuffling on, each epoch's first batches differ from the previous epoch's",
    event="the second epoch's first batches",
    applies=("epochs",),
)
RESUME_ORDER = Gate(
    name="resume_order",
    stage="train",
    settings=ResumeOrderSettings,
    tip=TIP,
    what="after resume=, the first batches are those an uninterrupted run draws there",
    event="the first batches after a resume",
)
