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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch.utils.data import SequentialSampler

from ..data.batch import Batch
from .base.gate import Gate
from .base.settings import GateSettings, bounded
from .base.verdict import Verdict, failed, passed, skipped

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
    """Fingerprints the first batches of every epoch the train loop draws, and judges them: it says which
    gates can be judged after each batch (`see`) and gives their verdicts; it runs no gate.

    `data_order` can be judged once the second epoch's first `want` batches are drawn, `resume_order`
    once a resumed run has drawn its first `again` batches. `uninterrupted(epoch, offset, count)` gives
    the fingerprints of the batches an uninterrupted run draws there (a fresh loader with the run's
    seed, iterated over indices only), or None where it cannot be known.
    """

    want: int  # gates.data_order.batches
    again: int  # gates.resume_order.batches
    shuffled: bool  # the training loader shuffles (else its order is meant to repeat)
    uninterrupted: Callable[[int, int, int], Optional[list[int]]]
    epochs: list[list[int]] = field(default_factory=list)
    judged: bool = False  # data_order
    resume_judged: bool = False
    resumed: Optional[tuple[int, int]] = None  # (epoch, batch offset) a resumed run continues at
    epoch: int = -1  # the epoch being drawn
    begun: int = 0  # epochs begun since training started (or went on)
    resuming: bool = False  # the resumed epoch is being drawn
    got: list[int] = field(default_factory=list)  # fingerprints of the batches drawn since the resume

    def state(self) -> dict[str, Any]:
        return {"epochs": [list(e) for e in self.epochs]}

    def restore(self, state: dict[str, Any]) -> None:
        """The fingerprints a resumed run's checkpoint saved (`state()`)."""
        self.epochs = [list(e) for e in state.get("epochs", [])]

    def begin(self, epoch: int) -> int:
        """Epoch `epoch` begins (the first after a resume: goes on); returns the index of its next batch."""
        self.epoch = epoch
        while len(self.epochs) <= epoch:
            self.epochs.append([])
        self.resuming = self.resumed is not None and self.begun == 0
        self.begun += 1
        return self.resumed[1] if self.resumed is not None and self.resuming else 0

    def see(self, k: int, batch: Batch) -> list[Gate]:
        """Batch `k` of the epoch, as drawn: fingerprinted if it is among the first; the gates now ready
        to be judged (their verdicts: `order_verdict`, `resume_verdict`)."""
        ready = []
        if self.resuming and len(self.got) < self.again:
            self.got.append(fingerprint(batch))
            if len(self.got) == self.again:
                self.resume_judged = True
                ready.append(RESUME_ORDER)
        seen = self.epochs[self.epoch]
        if k == len(seen) and k < self.want:
            seen.append(fingerprint(batch))
            if k + 1 == self.want and self.epoch >= 1 and not self.judged and self.shuffled:
                self.judged = True
                ready.append(DATA_ORDER)
        return ready

    def order_verdict(self) -> Verdict:
        """data_order, once the epoch's first batches are drawn: they must differ from the last epoch's."""
        epoch, want = self.epoch, self.want
        now, before = self.epochs[epoch][:want], self.epochs[epoch - 1][:want]
        if now != before:
            return passed(
                DATA_ORDER, 0, 0, f"epoch {epoch}'s first {want} batches differ from epoch {epoch - 1}'s", TIP
            )
        return failed(
            DATA_ORDER,
            1,
            0,
            f"with shuffling on, epoch {epoch} starts with the same {want} batches as epoch {epoch - 1}: the "
            f"order repeats every epoch. Likely causes: {CAUSES}. <gates.data_order.batches={want}>",
            TIP,
        )

    def unjudged(self) -> Verdict:
        """The data_order verdict of a run that never compared two epochs: why not."""
        if not self.shuffled:
            return skipped(DATA_ORDER, "the training loader does not shuffle (a sequential sampler)", TIP)
        return skipped(DATA_ORDER, f"{len(self.epochs)} epoch(s) begun: no two epochs to compare", TIP)

    def resume_unjudged(self) -> Verdict:
        """The resume_order verdict of a run that did not draw its first batches after a resume: why not."""
        if self.resumed is None:
            return skipped(RESUME_ORDER, "not a resumed run", TIP)
        epoch, offset = self.resumed
        return skipped(
            RESUME_ORDER,
            f"resumed at epoch {epoch}, batch {offset}: {len(self.got)} batch(es) drawn in that epoch after it, "
            f"fewer than the {self.again} compared <gates.resume_order.batches={self.again}>",
            TIP,
        )

    def resume_verdict(self) -> Verdict:
        """resume_order, once a resumed run has drawn its first batches: those an uninterrupted run draws there."""
        assert self.resumed is not None, "resume_order is judged in a resumed run only"
        (epoch, offset), got = self.resumed, self.got
        expected = self.uninterrupted(epoch, offset, len(got))
        where = f"epoch {epoch}, batches {offset}..{offset + len(got) - 1}"
        if expected is None:
            return passed(
                RESUME_ORDER,
                0,
                0,
                f"resumed at {where}: the uninterrupted order cannot be drawn here (several processes)",
                TIP,
            )
        if expected == got:
            return passed(
                RESUME_ORDER, 0, 0, f"resumed at {where}: the batches are those an uninterrupted run draws there", TIP
            )
        replay = [e for e in range(epoch) if self.uninterrupted(e, offset, len(got)) == got]
        said = f" (they are epoch {replay[0]}'s instead: the order restarted)" if replay else ""
        return failed(
            RESUME_ORDER,
            sum(a != b for a, b in zip(got, expected)),
            0,
            f"after the resume, the batches at {where} are not those an uninterrupted run draws there{said}. "
            f"Likely causes: {CAUSES}. <gates.resume_order.batches={self.again}>",
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
    applies=("resumed",),
)
