"""D4RL locomotion datasets read directly from their HDF5 files (``d4rl`` itself is never imported).

File layout (D4RL v2, ``gym_mujoco_v2``): ``observations [R, O]``, ``actions [R, A]``, ``rewards [R]``,
``terminals [R]``, ``timeouts [R]``, optionally ``next_observations [R, O]``, plus ``metadata/*``,
``infos/*`` and (some files) policy weights, which are ignored. Medium-replay files are float64, the
others float32. A file normally ends with an episode that is neither terminated nor timed out.

Transition rules (``next_observations`` option):

- ``following_row`` (default; what ``d4rl.qlearning_dataset`` does): row ``i`` becomes
  ``(obs[i], act[i], r[i], obs[i+1], terminals[i])`` for ``i < N-1``; rows flagged ``timeouts`` and the
  last row are dropped (their next observation is not the following row). ``done`` comes from
  ``terminals`` only. One deviation from ``qlearning_dataset``: a terminal row's following row is the
  next episode's first state, so its next observation is taken from the file's ``next_observations``
  when it has them, else re-simulated (``simulate_next``) when the caller gives a simulator, else left
  as the following row and labelled so (``Transitions.terminal_next``). A terminal row does not
  bootstrap, so this changes no TD target; it matters for a hazard decided on the next state.
- ``stored``: uses the file's ``next_observations``, so every row is kept, timeout rows included
  (``done`` still from ``terminals`` only; a time limit is bootstrapped).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import h5py
import numpy as np

from ramac.data.transitions import Transitions
from ramac.tasks import ENVS

NextObservationRule = Literal["following_row", "stored"]
NextStateSimulator = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (obs [R, O], actions [R, A]) -> [R, O]

D4RL_DATASETS = ("random", "medium", "expert", "medium-replay", "medium-expert", "full-replay")
D4RL_URL = "http://rail.eecs.berkeley.edu/datasets/offline_rl/gym_mujoco_v2/{stem}.hdf5"
REQUIRED_KEYS = ("observations", "actions", "rewards", "terminals", "timeouts")


def d4rl_stem(env: str, dataset: str) -> str:
    """``hopper``, ``medium-replay`` -> ``hopper_medium_replay-v2`` (D4RL's file name without suffix)."""
    if env not in ENVS:
        raise ValueError(f"unknown D4RL environment {env!r}; expected one of {tuple(ENVS)}")
    if dataset not in D4RL_DATASETS:
        raise ValueError(f"unknown D4RL dataset {dataset!r} for {env}; expected one of {D4RL_DATASETS}")
    return f"{env}_{dataset.replace('-', '_')}-v2"


def d4rl_cache_dir() -> Path:
    """D4RL's cache: ``$D4RL_DATASET_DIR``, else ``~/.d4rl/datasets``."""
    return Path(os.environ.get("D4RL_DATASET_DIR", Path.home() / ".d4rl" / "datasets")).expanduser()


def locate_d4rl(env: str, dataset: str, download: bool = True) -> Path:
    """Path of the D4RL file in the cache, downloading it (atomically) when absent and allowed."""
    stem = d4rl_stem(env, dataset)
    path = d4rl_cache_dir() / f"{stem}.hdf5"
    if path.exists():
        return path
    url = D4RL_URL.format(stem=stem)
    where = (f"Put the file at {path} (or set D4RL_DATASET_DIR to the folder that holds {stem}.hdf5), "
             "or train on a file of your own with --data.source file --data.path FILE.")
    if not download:
        raise FileNotFoundError(f"D4RL dataset {env}-{dataset}-v2 is not in the cache. {where}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise PermissionError(f"cannot create the D4RL cache directory {path.parent}: {err}. {where}") from err
    if not os.access(path.parent, os.W_OK):
        raise PermissionError(f"the D4RL cache directory {path.parent} is not writable. {where}")
    try:
        download_file(url, path)
    except (urllib.error.URLError, OSError) as err:
        raise FileNotFoundError(f"could not download {url} ({err}). {where}") from err
    return path


def download_file(url: str, path: Path, timeout: float = 30.0) -> None:
    """Download ``url`` to ``path`` with a progress bar; the file appears only when complete."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as handle:
        total = int(response.headers.get("Content-Length") or 0) or None
        with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TransferSpeedColumn()) as progress:
            task = progress.add_task(f"downloading {path.name}", total=total)
            while chunk := response.read(1 << 20):
                handle.write(chunk)
                progress.advance(task, len(chunk))
        handle.flush()
        os.fsync(handle.fileno())
    if total is not None and partial.stat().st_size != total:
        partial.unlink(missing_ok=True)
        raise OSError(f"download of {url} stopped at {partial.stat().st_size} of {total} bytes")
    os.replace(partial, path)


def read_d4rl_file(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read and check the arrays of a D4RL-layout HDF5 file (errors name the file and the key)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: the file is empty")
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {err}") from err
    with handle:
        missing = [k for k in REQUIRED_KEYS if k not in handle]
        if missing:
            raise KeyError(f"{path}: missing key(s) {missing}; a D4RL file needs {list(REQUIRED_KEYS)} "
                           f"(found {sorted(handle.keys())})")
        raw: dict[str, np.ndarray] = {}
        for key in (*REQUIRED_KEYS, "next_observations"):
            if key not in handle:
                continue
            if not isinstance(handle[key], h5py.Dataset):
                raise ValueError(f"{path}: '{key}' must be a dataset, found a group")
            try:
                value = handle[key][()]
            except OSError as err:
                raise ValueError(f"{path}: cannot read '{key}' (truncated file?): {err}") from err
            if not (np.issubdtype(value.dtype, np.number) or value.dtype == np.bool_):
                raise ValueError(f"{path}: '{key}' must be numeric, got dtype {value.dtype}")
            raw[key] = value
    n = raw["observations"].shape[0] if raw["observations"].ndim == 2 else -1
    if n < 0:
        raise ValueError(f"{path}: 'observations' must be [R, obs_dim], got shape {raw['observations'].shape}")
    if n == 0:
        raise ValueError(f"{path}: the file holds no transitions")
    for key, ndim in (("actions", 2), ("rewards", 1), ("terminals", 1), ("timeouts", 1), ("next_observations", 2)):
        if key in raw and (raw[key].ndim != ndim or raw[key].shape[0] != n):
            want = "[R, dim]" if ndim == 2 else "[R]"
            raise ValueError(f"{path}: '{key}' must have shape {want} with R = {n} (rows of 'observations'), "
                             f"got {raw[key].shape}")
    if "next_observations" in raw and raw["next_observations"].shape != raw["observations"].shape:
        raise ValueError(f"{path}: 'next_observations' shape {raw['next_observations'].shape} differs from "
                         f"'observations' {raw['observations'].shape}")
    for key in ("terminals", "timeouts"):
        if not np.all((raw[key] == 0) | (raw[key] == 1)):
            raise ValueError(f"{path}: '{key}' must hold only 0/1 (or booleans)")
    return raw


def d4rl_transitions(raw: dict[str, np.ndarray], source: str,
                     next_observations: NextObservationRule = "following_row",
                     simulate_next: NextStateSimulator | None = None) -> Transitions:
    """Turn the arrays of a D4RL file into transitions with the chosen rule (module docstring)."""
    terminals = raw["terminals"].astype(bool)
    timeouts = raw["timeouts"].astype(bool)
    if next_observations == "stored":
        if "next_observations" not in raw:
            raise KeyError(f"{source}: next_observations='stored' needs a 'next_observations' key, which this "
                           "file lacks; use next_observations='following_row'")
        return Transitions(raw["observations"], raw["actions"], raw["rewards"], raw["next_observations"],
                           terminals.astype(np.float32), source=source,
                           episode_ends=(terminals | timeouts).astype(np.float32))
    if next_observations != "following_row":
        raise ValueError(f"next_observations must be 'following_row' or 'stored', got {next_observations!r}")
    n = raw["observations"].shape[0]
    keep = np.flatnonzero(~timeouts[: n - 1])  # rows 0..N-2 that are not time-limit rows
    if keep.size == 0:
        raise ValueError(f"{source}: no transitions left after dropping timeout rows and the last row")
    # a kept row ends its episode when it is terminal or the following row is the time-limit row
    ends = terminals[keep] | timeouts[keep + 1]
    next_obs = raw["observations"][keep + 1]
    terminal = terminals[keep]
    terminal_rows = keep[terminal]  # file rows whose following row starts the next episode
    origin = "stored"
    if terminal_rows.size and "next_observations" in raw:
        next_obs[terminal] = raw["next_observations"][terminal_rows]
    elif terminal_rows.size and simulate_next is not None:
        next_obs[terminal] = simulate_next(raw["observations"][terminal_rows], raw["actions"][terminal_rows])
        origin = "re-simulated"
    elif terminal_rows.size:
        origin = "following row"
    return Transitions(raw["observations"][keep], raw["actions"][keep], raw["rewards"][keep], next_obs,
                       terminal.astype(np.float32), source=source, episode_ends=ends.astype(np.float32),
                       terminal_next=origin)
