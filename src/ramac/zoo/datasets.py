"""Writing behaviour datasets as D4RL-layout HDF5 files with provenance attributes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ramac.zoo.rollouts import KEYS


def write_hdf5(path: str | os.PathLike[str], data: dict[str, np.ndarray], provenance: dict[str, Any]) -> Path:
    """Write ``data`` (float32 arrays, boolean flags) in D4RL's layout; the file appears only when complete.

    ``provenance`` is stored as HDF5 attributes (JSON for nested values) on the root group.
    """
    path = Path(path)
    missing = [k for k in KEYS if k not in data]
    if missing:
        raise KeyError(f"{path}: cannot write a D4RL-layout file without {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # unique: concurrent writers never share it
    with h5py.File(tmp, "w") as handle:
        for key in KEYS:
            value = data[key]
            dtype = bool if key in ("terminals", "timeouts") else np.float32
            handle.create_dataset(key, data=np.asarray(value, dtype=dtype), compression="gzip", compression_opts=1)
        for key, value in provenance.items():
            handle.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)
        handle.flush()
    os.replace(tmp, path)
    return path


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    with h5py.File(path, "r") as handle:
        return dict(handle.attrs)
