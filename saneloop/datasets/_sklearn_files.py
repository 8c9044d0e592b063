"""Read the data files scikit-learn ships, without importing scikit-learn (which costs ~1 s)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def sklearn_data_file(name: str) -> Path:
    """Path of a data file bundled in scikit-learn's wheel (`sklearn/datasets/data/NAME`)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("scikit-learn is not installed; `pip install scikit-learn` (it ships the default data)")
    path = Path(spec.origin).parent / "datasets" / "data" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing from the installed scikit-learn; reinstall it")
    return path
