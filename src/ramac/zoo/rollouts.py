"""Datasets from policy rollouts, in D4RL's row layout (episode-contiguous rows, `timeouts` at the limit)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

Policy = Callable[[np.ndarray, np.random.Generator], np.ndarray]
KEYS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")


class UniformPolicy:
    """Uniform random actions in ``[-scale, scale]^A`` (the random warm-up of the SAC runs)."""

    def __init__(self, action_dim: int, scale: float) -> None:
        self.action_dim, self.scale = action_dim, scale

    def __call__(self, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(-self.scale, self.scale, (obs.shape[0], self.action_dim))


def _episodes(env_id: str, policy: Policy, quota: int, seed: int, num_envs: int,
              progress: Callable[[int], None] | None) -> dict[str, np.ndarray]:
    """Whole episodes, in the order they end, until at least ``quota`` rows are written."""
    envs = [gym.make(env_id) for _ in range(num_envs)]
    rng = np.random.default_rng(seed)
    obs = np.stack([env.reset(seed=seed * 1000 + k)[0] for k, env in enumerate(envs)])
    current: list[dict[str, list]] = [{key: [] for key in KEYS} for _ in envs]
    out: dict[str, list[np.ndarray]] = {key: [] for key in KEYS}
    written = 0
    while written < quota:
        actions = policy(obs, rng)
        for k, env in enumerate(envs):
            nxt, reward, terminated, truncated, _ = env.step(actions[k])
            episode = current[k]
            for key, value in zip(KEYS, (obs[k].copy(), actions[k].copy(), reward, nxt, terminated,
                                         truncated and not terminated),
                                  strict=True):
                episode[key].append(value)
            if terminated or truncated:
                for key in KEYS:
                    out[key].append(np.asarray(episode[key]))
                written += len(episode["rewards"])
                if progress is not None:
                    progress(len(episode["rewards"]))
                current[k] = {key: [] for key in KEYS}
                nxt, _ = env.reset()
            obs[k] = nxt
    for env in envs:
        env.close()
    return {key: np.concatenate(value) for key, value in out.items()}


def _worker(args: tuple) -> dict[str, np.ndarray]:
    torch.set_num_threads(1)
    return _episodes(*args, None)


def collect(env_id: str, policy: Policy, size: int, seed: int, num_envs: int = 16, workers: int = 1,
            progress: Callable[[int], None] | None = None, shards: int | None = None) -> dict[str, np.ndarray]:
    """``size`` rows of rollouts of ``policy`` in ``num_envs`` environments stepped in lock-step.

    The policy acts on the whole batch in one call. Episodes are written whole, in the order they end;
    the final one is cut to fill exactly ``size`` rows and is left unflagged (as in D4RL's files). The rows
    come in ``shards`` parts (default: one per worker): shard ``j`` rolls out whole episodes for its share with
    seed ``seed + 7919 j``, and the parts are concatenated in shard order. ``workers`` processes (``policy``
    must then be picklable) work through the shards; given ``shards``, the result depends only on the other
    arguments, not on ``workers``. Torch runs on one thread meanwhile (restored afterwards): the policy MLPs
    are small, and more threads only oversubscribe the cores the environments need.
    """
    shards = shards or workers
    if size < 1 or num_envs < 1 or workers < 1 or shards < 1:
        raise ValueError(f"size, num_envs, workers and shards must be >= 1, got {size}, {num_envs}, {workers}, "
                         f"{shards}")
    quotas = [size // shards + (j < size % shards) for j in range(shards)]
    jobs = [(env_id, policy, quota, seed + 7919 * j, num_envs) for j, quota in enumerate(quotas) if quota > 0]
    if workers == 1:
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            parts = [_episodes(*job, progress) for job in jobs]
        finally:
            torch.set_num_threads(threads)
    else:
        with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
            parts = []
            for part in pool.imap(_worker, jobs):
                parts.append(part)
                if progress is not None:
                    progress(len(part["rewards"]))
    data = {key: np.concatenate([p[key] for p in parts])[:size] for key in KEYS}
    data["terminals"] = data["terminals"].astype(bool)
    data["timeouts"] = data["timeouts"].astype(bool)
    return data  # a cut falls inside an episode, whose rows carry no flags: the tail is unfinished
