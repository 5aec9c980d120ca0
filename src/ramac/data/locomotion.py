"""Stochastic-D4RL locomotion data: D4RL files, Minari datasets or any D4RL-layout file, with hazards.

``source`` selects where the data come from:

- ``auto`` (default): D4RL's file when it is in D4RL's cache, else the ramac zoo (never a download);
- ``zoo``: a dataset made on first use from ramac's shipped behaviour policies on the gymnasium v5 env
  (``ramac.zoo.registry``; cached in ``$RAMAC_DATA_DIR/datasets``) — a regeneration, not D4RL v2;
- ``d4rl``: D4RL's v2 file ``<env>_<dataset>-v2.hdf5`` from D4RL's cache (``$D4RL_DATASET_DIR`` or
  ``~/.d4rl/datasets``), downloaded from D4RL's official URL when missing and the network allows;
- ``file``: any file in D4RL's HDF5 layout given by ``path``;
- ``minari``: the Minari dataset ``minari_id`` (local, or downloaded when the network allows).

The hazard (``hazard``, per task in ``conf/``) relabels the rewards with a seeded generator
(``hazard_seed``), so a config always yields the same rewards. The run records the data it used
(source, path, size, SHA-256 of the final arrays) in the checkpoint and the logged hyperparameters.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import cached_property, partial
from typing import Any, Literal

import gymnasium as gym
import numpy as np
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from ramac.data.d4rl import (
    D4RL_DATASETS,
    NextObservationRule,
    d4rl_cache_dir,
    d4rl_stem,
    d4rl_transitions,
    locate_d4rl,
    read_d4rl_file,
)
from ramac.data.datamodule import OfflineDataModule
from ramac.data.hazards import relabel
from ramac.data.minari_source import minari_transitions
from ramac.data.normalization import observation_statistics
from ramac.data.statistics import dataset_statistics, print_statistics
from ramac.data.transitions import Transitions
from ramac.envs.hazards import Hazard
from ramac.envs.resimulation import simulate_next_observations
from ramac.tasks import ENVS, ZOO_DATASETS, env_facts
from ramac.zoo.policy import GENERATION, GENERATIONS


class StochasticD4RLDataModule(OfflineDataModule):
    """Offline locomotion data with Stochastic-D4RL hazards.

    Args:
        env: ``hopper``, ``walker2d`` or ``halfcheetah``.
        dataset: D4RL dataset name (``medium-replay``, ``medium-expert``, ...).
        source: ``auto``, ``zoo``, ``d4rl``, ``file`` or ``minari`` (module docstring).
        path: the file for ``source=file``; a path given with the default ``source=auto`` selects ``file``.
        minari_id: the dataset id for ``source=minari`` (e.g. ``mujoco/hopper/medium-v0``).
        zoo_size: transitions of a zoo dataset (default: D4RL's sizes).
        zoo_seed: seed of the zoo rollouts.
        zoo_generation: arithmetic of the zoo's policies (:class:`ramac.zoo.policy.ZooPolicy`): 2, the same
            data on every CPU; 1, the data of the studies before it (README "Data").
        download: allow downloads when the data are not on disk.
        next_observations: ``following_row`` (d4rl.qlearning_dataset) or ``stored`` (see ramac.data.d4rl).
        hazard: the task's hazard, or ``None`` for the plain data.
        hazard_seed: seed of the penalty draws.
        normalize_observations: standardise observations with the data's mean/std (saved with the model).
        batch_size, iterations_per_epoch, reward_scale: see :class:`OfflineDataModule`.
    """

    def __init__(self, env: Literal["hopper", "walker2d", "halfcheetah"], dataset: str = "medium-replay",
                 source: Literal["auto", "zoo", "d4rl", "file", "minari"] = "auto", path: str | None = None,
                 minari_id: str | None = None, zoo_size: int | None = None, zoo_seed: int = 0,
                 zoo_generation: int = GENERATION, download: bool = True,
                 next_observations: NextObservationRule = "following_row", hazard: Hazard | None = None,
                 hazard_seed: int = 0, normalize_observations: bool = False, batch_size: int = 256,
                 iterations_per_epoch: int = 1000, reward_scale: float = 1.0) -> None:
        super().__init__(batch_size=batch_size, iterations_per_epoch=iterations_per_epoch, reward_scale=reward_scale)
        if env not in ENVS:
            raise ValueError(f"data.env must be one of {tuple(ENVS)}, got {env!r}")
        if dataset not in D4RL_DATASETS:
            raise ValueError(f"data.dataset must be one of {D4RL_DATASETS}, got {dataset!r}")
        if source not in ("auto", "zoo", "d4rl", "file", "minari"):
            raise ValueError(f"data.source must be 'auto', 'zoo', 'd4rl', 'file' or 'minari', got {source!r}")
        if path and source == "auto":  # a user who names a file means that file
            source = "file"
        if source == "zoo" and dataset not in ZOO_DATASETS:
            raise ValueError(f"data.source=zoo: the zoo makes {ZOO_DATASETS}, not {dataset!r}")
        if zoo_generation not in GENERATIONS:
            raise ValueError(f"data.zoo_generation must be one of {GENERATIONS}, got {zoo_generation}")
        if source == "file" and not path:
            raise ValueError("data.source=file needs data.path (a D4RL-layout HDF5 file)")
        if source == "minari" and not minari_id:
            raise ValueError("data.source=minari needs data.minari_id (e.g. mujoco/hopper/medium-v0)")
        if path and source != "file":
            raise ValueError(f"data.path is only used with data.source=file (source is {source!r}): drop "
                             "--data.path, or give --data.source file")
        self.env, self.dataset, self.source, self.path, self.minari_id = env, dataset, source, path, minari_id
        self.download, self.next_observations = download, next_observations
        self.zoo_size, self.zoo_seed, self.zoo_generation = zoo_size, zoo_seed, zoo_generation
        self._hazard, self.hazard_seed, self.normalize_observations = hazard, hazard_seed, normalize_observations
        self.env_id = env_facts(env).gym_id
        self.risky: np.ndarray | None = None
        self.penalised: np.ndarray | None = None
        self.observation_stats: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def hazard(self) -> Hazard | None:
        """The task's hazard as the data and the environments apply it: an energy hazard's threshold is set from the
        dataset's actions (:meth:`Hazard.with_energy_threshold`), so asking for it loads the data first."""
        if self._hazard is not None and self._hazard.kind == "energy" and self._hazard.max_energy is None:
            _ = self.transitions
        return self._hazard

    @cached_property
    def _spaces(self) -> tuple[gym.spaces.Box, gym.spaces.Box]:
        env = gym.make(self.env_id)
        try:
            return env.observation_space, env.action_space  # type: ignore[return-value]
        finally:
            env.close()

    @property
    def max_action(self) -> float:
        return float(np.max(np.abs(self._spaces[1].high)))

    # The dimensions come from the task's environment (the data are checked against them when loaded),
    # so building the learner does not load the data: under DDP every process builds one, and only
    # local rank 0 downloads or makes files, in `prepare_data`.
    @property
    def obs_dim(self) -> int:
        return int(self._spaces[0].shape[0])

    @property
    def action_dim(self) -> int:
        return int(self._spaces[1].shape[0])

    def _resolve_source(self) -> str:
        if self.source != "auto":
            return self.source
        cached = d4rl_cache_dir() / f"{d4rl_stem(self.env, self.dataset)}.hdf5"
        return "d4rl" if cached.exists() else "zoo"

    def prepare_data(self) -> None:
        """Download (D4RL) or make (zoo) the data file once per node before the processes load it."""
        source = self._resolve_source()
        if source == "zoo":
            self._zoo_file()
        elif source == "d4rl":
            locate_d4rl(self.env, self.dataset, self.download)

    def _zoo_file(self) -> str:
        from ramac.zoo.registry import make_dataset  # the dataset factory (MuJoCo rollouts) only when used

        try:
            return str(make_dataset(f"{self.env}-{self.dataset}", self.zoo_size, self.zoo_seed,
                                    generation=self.zoo_generation))
        except FileNotFoundError as err:
            if self.source != "auto":
                raise
            cached = d4rl_cache_dir() / f"{d4rl_stem(self.env, self.dataset)}.hdf5"
            raise FileNotFoundError(f"no data for {self.env}-{self.dataset}: D4RL's file is not at {cached} and "
                                    f"{err}. Use --data.source d4rl to download it, or --data.source file "
                                    "--data.path FILE.") from err

    def _load_raw(self) -> tuple[Transitions, dict[str, Any]]:
        if self.source == "minari":
            transitions = minari_transitions(self.minari_id or "", download=self.download)
            return transitions, {"minari_id": self.minari_id}
        source = self._resolve_source()
        if source == "zoo":
            path = self._zoo_file()  # already made by prepare_data in a Trainer run
            rank_zero_info(f"ramac: using zoo data {path} (a gymnasium v5 regeneration, not D4RL v2)")
        elif source == "d4rl":
            path = str(locate_d4rl(self.env, self.dataset, self.download))
            rank_zero_info(f"ramac: using D4RL data {path}")
        else:
            assert self.path is not None
            path = self.path
            if not os.path.isfile(path):
                raise FileNotFoundError(f"data.path {path}: no such file")
        raw = read_d4rl_file(path)
        info = {"resolved_source": source, "path": os.path.abspath(path), "file_bytes": os.path.getsize(path),
                **({"zoo_generation": self.zoo_generation} if source == "zoo" else {})}
        simulate = partial(simulate_next_observations, self.env_id)  # used where a file lacks next_observations
        return d4rl_transitions(raw, str(path), self.next_observations, simulate), info

    def load_transitions(self) -> Transitions:
        transitions, info = self._load_raw()
        obs_space, action_space = self._spaces
        if transitions.obs_dim != obs_space.shape[0] or transitions.action_dim != action_space.shape[0]:
            raise ValueError(f"{transitions.source}: data have obs dim {transitions.obs_dim} and action dim "
                             f"{transitions.action_dim}, but {self.env_id} has {obs_space.shape[0]} and "
                             f"{action_space.shape[0]} (data.env={self.env!r})")
        if self._hazard is not None:
            self._hazard = self._hazard.with_energy_threshold(transitions.actions)
            result = relabel(transitions, self._hazard, self.hazard_seed)
            transitions, self.risky, self.penalised = result.transitions, result.risky, result.penalised
        self.statistics = dataset_statistics(transitions, self.risky, self.penalised)
        if self.normalize_observations:
            mean, std = observation_statistics(transitions.observations)
            self.observation_stats = (mean, std)
            transitions = replace(transitions, observations=(transitions.observations - mean) / std,
                                  next_observations=(transitions.next_observations - mean) / std,
                                  source=transitions.source + " (normalised)")
        self.load_info = {"source": self.source, "env": self.env_id, "dataset": self.dataset, **info}
        return transitions

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.load_info, "hazard_seed": self.hazard_seed,
                "hazard": None if self.hazard is None else vars(self.hazard),
                "normalize_observations": self.normalize_observations}

    def setup(self, stage: str) -> None:
        _ = self.transitions
        self._print_statistics()

    @rank_zero_only
    def _print_statistics(self) -> None:
        hazard = "no hazard" if self._hazard is None else f"{self._hazard.kind} hazard"
        print_statistics(self.statistics, f"{self.env}-{self.dataset} ({self.source}, {hazard})")
