"""Where ramac keeps data on disk."""

from __future__ import annotations

import os
from pathlib import Path


def ramac_home() -> Path:
    """ramac's data directory: ``$RAMAC_DATA_DIR``, else ``~/.ramac``."""
    return Path(os.environ.get("RAMAC_DATA_DIR", Path.home() / ".ramac")).expanduser()


def datasets_dir() -> Path:
    """Where datasets made by ramac are cached."""
    return ramac_home() / "datasets"


def zoo_dataset_path(env_id: str, dataset: str, seed: int, size: int | None, zoo_version: str,
                     generation: int) -> Path:
    """Cache file of a dataset made from the zoo (``zoo_version`` identifies the policies it came from,
    ``generation`` the arithmetic; generation 1 files keep the name they had before generations existed)."""
    tag = (f"-g{generation}" if generation != 1 else "") + f"-{zoo_version}"
    return datasets_dir() / f"{env_id}-{dataset}-zoo{tag}-seed{seed}-{size or 'default'}.hdf5"
