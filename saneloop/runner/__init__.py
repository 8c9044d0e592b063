"""Running saneloop: the pipeline (the whole story, top to bottom), the Python API and its result."""

import random as _random

# Loading the runner loads libraries that draw from Python's `random` as they are imported (rich's style
# ids), on the first `saneloop.run` of a process: the user's stream is put back as it was.
_stream = _random.getstate()
from .api import compose_config, run, run_config  # noqa: E402
from .result import RunResult  # noqa: E402

_random.setstate(_stream)
del _stream

__all__ = ["RunResult", "compose_config", "run", "run_config"]
