"""Behaviour datasets as D4RL-layout HDF5 files with provenance attributes, and their data checksum."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ramac.zoo.rollouts import KEYS


def stored(key: str, value: np.ndarray) -> np.ndarray:
    """An array as a D4RL-layout file stores it: flags as booleans, everything else as float32."""
    return np.asarray(value, dtype=bool if key in ("terminals", "timeouts") else np.float32)


def dataset_checksum(data: dict[str, np.ndarray]) -> str:
    """SHA-256 over the bytes of the six arrays as stored (:func:`stored`), in the order of ``KEYS``: the data
    checksum the zoo publishes (``ramac/zoo/checksums.json``). Runs record another, of the transitions they
    trained on after hazard relabelling (:meth:`ramac.data.transitions.Transitions.checksum`)."""
    digest = hashlib.sha256()
    for key in KEYS:
        digest.update(np.ascontiguousarray(stored(key, data[key])).tobytes())
    return digest.hexdigest()


def read_arrays(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """The six arrays of a D4RL-layout file, as stored."""
    with h5py.File(path, "r") as handle:
        missing = [k for k in KEYS if k not in handle]
        if missing:
            raise KeyError(f"{path}: not a D4RL-layout file (no {missing})")
        return {key: handle[key][()] for key in KEYS}


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
            handle.create_dataset(key, data=stored(key, data[key]), compression="gzip", compression_opts=1)
        for key, value in provenance.items():
            handle.attrs[key] = value if isinstance(value, (int, float, str)) else json.dumps(value)
        handle.flush()
    os.replace(tmp, path)
    return path


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    with h5py.File(path, "r") as handle:
        return dict(handle.attrs)
