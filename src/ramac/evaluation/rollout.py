"""Batched evaluation rollouts: all episodes step together and the policy acts on the whole batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from ramac.envs.hazards import Hazard, HazardWrapper


@dataclass
class RolloutResult:
    returns: np.ndarray  # [E]
    lengths: np.ndarray  # [E]
    risky_steps: np.ndarray  # [E]
    penalties: np.ndarray  # [E]
    observations: np.ndarray  # [S, O] every visited state at which the policy acted
    actions: np.ndarray  # [S, A]


def make_eval_env(env_id: str, hazard: Hazard | None, horizon: int, **env_kwargs: object) -> gym.Env:
    env = gym.make(env_id, max_episode_steps=horizon, **env_kwargs)
    return HazardWrapper(env, hazard) if hazard is not None else env


def rollout(act: Callable[[torch.Tensor], torch.Tensor], env_id: str, hazard: Hazard | None, seeds: list[int],
            horizon: int, device: torch.device | str = "cpu", **env_kwargs: object) -> RolloutResult:
    """Run one episode per seed, all in lock-step; ``act`` maps ``[n, O]`` observations to ``[n, A]`` actions.

    Episode ``i`` resets with ``seeds[i]``, so the result depends only on the policy and the seeds.
    """
    envs = [make_eval_env(env_id, hazard, horizon, **env_kwargs) for _ in seeds]
    obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds, strict=True)])
    n = len(envs)
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    risky, penalties = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    active = np.ones(n, dtype=bool)
    seen_obs, seen_act = [], []
    while active.any():
        idx = np.flatnonzero(active)
        batch = torch.as_tensor(obs[idx], dtype=torch.float32, device=device)
        actions = act(batch).detach().float().cpu().numpy()
        seen_obs.append(obs[idx].copy())
        seen_act.append(actions)
        for row, i in enumerate(idx):
            nxt, reward, terminated, truncated, info = envs[i].step(actions[row])
            returns[i] += float(reward)
            lengths[i] += 1
            risky[i] += int(info.get("risky_state", False))
            penalties[i] += int(info.get("hazard_penalty", False))
            obs[i] = nxt
            if terminated or truncated:
                active[i] = False
    for env in envs:
        env.close()
    return RolloutResult(returns, lengths, risky, penalties, np.concatenate(seen_obs), np.concatenate(seen_act))
