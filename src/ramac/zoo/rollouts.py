"""Datasets from policy rollouts, in D4RL's row layout (episode-contiguous rows, `timeouts` at the limit)."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

Policy = Callable[[np.ndarray, np.random.Generator], np.ndarray]
KEYS = ("observations", "actions", "rewards", "next_observations", "terminals", "timeouts")


def collect(env_id: str, policy: Policy, size: int, seed: int, num_envs: int = 16,
            progress: Callable[[int], None] | None = None) -> dict[str, np.ndarray]:
    """``size`` rows of rollouts of ``policy`` in ``num_envs`` environments stepped in lock-step.

    The policy acts on the whole batch in one call. Episodes are written whole, in the order they end;
    the last one is cut to fill exactly ``size`` rows and is left unflagged (as in D4RL's files).
    Environment ``k``'s episodes are seeded from ``seed`` so the result depends only on the arguments.
    """
    if size < 1 or num_envs < 1:
        raise ValueError(f"size and num_envs must be >= 1, got {size} and {num_envs}")
    envs = [gym.make(env_id) for _ in range(num_envs)]
    rng = np.random.default_rng(seed)
    obs = np.stack([env.reset(seed=seed * 1000 + k)[0] for k, env in enumerate(envs)])
    current: list[dict[str, list]] = [{key: [] for key in KEYS} for _ in envs]
    out: dict[str, list[np.ndarray]] = {key: [] for key in KEYS}
    written = 0
    while written < size:
        actions = policy(obs, rng)
        for k, env in enumerate(envs):
            nxt, reward, terminated, truncated, _ = env.step(actions[k])
            ep = current[k]
            for key, value in zip(KEYS, (obs[k], actions[k], reward, nxt, terminated, truncated and not terminated),
                                  strict=True):
                ep[key].append(value)
            if terminated or truncated:
                rows = min(len(ep["rewards"]), size - written)
                for key in KEYS:
                    out[key].append(np.asarray(ep[key][:rows]))
                written += rows
                if progress is not None:
                    progress(rows)
                current[k] = {key: [] for key in KEYS}
                nxt, _ = env.reset()
                if written >= size:
                    break
            obs[k] = nxt
        if written < size:  # an episode long enough to finish the dataset on its own
            longest = max(range(num_envs), key=lambda j: len(current[j]["rewards"]))
            if written + len(current[longest]["rewards"]) >= size:
                rows = size - written
                for key in KEYS:
                    out[key].append(np.asarray(current[longest][key][:rows]))
                if progress is not None:
                    progress(rows)
                written = size
    for env in envs:
        env.close()
    data = {key: np.concatenate(value) for key, value in out.items()}
    data["terminals"] = data["terminals"].astype(bool)
    data["timeouts"] = data["timeouts"].astype(bool)
    return data
