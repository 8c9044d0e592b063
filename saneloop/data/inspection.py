"""Batches checked where they are collated: what a rejected batch looks like, to the train loop
(`Rejected`, yielded in its place) and to every other reader (`BadBatch`, raised by `Inspected`).

The check itself (`Inspect`) comes from the `full_pass` gate; it runs inside the collate, so in
the DataLoader's workers when there are any, and costs the reading loop nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import InputError
from .batch import Batch

# (the collated batch, or an empty one with its indices when the collate raised; the error) -> problems
Inspect = Callable[[Batch, Optional[Exception]], Optional[list[str]]]
_LISTED = 8


@dataclass(frozen=True)
class Rejected:
    """What a loader yields instead of a batch whose data fail the inspection: the batch's dataset
    indices, what is wrong, and the batch itself (None when it could not be collated)."""

    indices: list[int]
    problems: list[str]
    batch: Optional[Batch] = None


class BadBatch(InputError):
    """A batch that a gate or a probe read failed the inspection (the gate runner turns it into a
    `full_pass` verdict naming the items)."""

    def __init__(self, rejected: Rejected) -> None:
        more = " ..." if len(rejected.indices) > _LISTED else ""
        super().__init__(f"train items {rejected.indices[:_LISTED]}{more}: {'; '.join(rejected.problems)}")
        self.rejected = rejected


class Inspected:
    """A loader for readers that expect batches: a `Rejected` one raises `BadBatch` instead."""

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader

    def __iter__(self) -> Iterator[Batch]:
        for batch in self.loader:
            if isinstance(batch, Rejected):
                raise BadBatch(batch)
            yield batch

    def __len__(self) -> int:
        return len(self.loader)  # type: ignore[arg-type]
