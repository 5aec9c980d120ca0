"""Writers of D4RL-layout HDF5 files for the tests (all real variants of the v2 files)."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import h5py
import numpy as np


def rollout_arrays(env_id: str = "Hopper-v5", episodes: int = 6, max_steps: int = 40, seed: int = 0,
                   partial_tail: int = 7) -> dict[str, np.ndarray]:
    """Random-action rollouts in D4RL's row layout: episodes end by termination or by the time limit
    ``max_steps`` (flagged in ``timeouts``), then an unfinished episode of ``partial_tail`` rows."""
    env = gym.make(env_id)
    rng = np.random.default_rng(seed)
    rows: dict[str, list] = {k: [] for k in ("observations", "actions", "rewards", "next_observations",
                                             "terminals", "timeouts")}
    for episode in range(episodes + 1):
        obs, _ = env.reset(seed=seed + episode)
        limit = partial_tail if episode == episodes else max_steps
        for t in range(limit):
            action = rng.uniform(-1, 1, env.action_space.shape)
            nxt, reward, terminated, _, _ = env.step(action)
            timeout = episode < episodes and t == limit - 1 and not terminated
            for key, value in (("observations", obs), ("actions", action), ("rewards", reward),
                               ("next_observations", nxt), ("terminals", terminated), ("timeouts", timeout)):
                rows[key].append(value)
            obs = nxt
            if terminated:
                break
    env.close()
    return {k: np.asarray(v) for k, v in rows.items()}


def write_d4rl_file(path: Path, arrays: dict[str, np.ndarray], dtype=np.float32, next_observations: bool = True,
                    extras: bool = True) -> Path:
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            if key == "next_observations" and not next_observations:
                continue
            if key in ("terminals", "timeouts"):
                f.create_dataset(key, data=value.astype(bool))
            else:
                f.create_dataset(key, data=value.astype(dtype))
        if extras:  # what real files carry beside the arrays
            f.create_dataset("metadata/algorithm", data="SAC")
            f.create_dataset("metadata/iteration", data=np.int64(1000))
            f.create_dataset("metadata/policy/fc0/weight", data=np.zeros((4, 4), dtype=np.float32))
            f.create_dataset("infos/qpos", data=np.zeros((len(arrays["rewards"]), 3)))
    return path
