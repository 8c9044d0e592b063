"""How data flows through a run: items split into batches, loaders, summaries, augmentation, seeds.

Kept light (torch only): `saneloop.data.loaders` and `saneloop.data.seeding` are imported where used.
"""

from .augment import Augmented, GaussianNoise, RandomShift
from .batch import Batch, BatchFormat

__all__ = ["Augmented", "Batch", "BatchFormat", "GaussianNoise", "RandomShift"]
