"""Batched evaluation rollouts: all episodes step together and the policy acts on the whole batch.

With ``workers > 1`` the environments live in that many worker processes, which step their share of
the episodes in parallel while the policy runs once per step in the main process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


def make_eval_env(env_id: str, hazard: Hazard | None, horizon: int, **env_kwargs: Any) -> gym.Env:
    env = gym.make(env_id, max_episode_steps=horizon, **env_kwargs)
    return HazardWrapper(env, hazard) if hazard is not None else env


class _Envs:
    """A group of episodes stepped in this process: ``step(actions [n_active, A])`` for the active ones."""

    def __init__(self, env_id: str, hazard: Hazard | None, horizon: int, seeds: list[int],
                 env_kwargs: dict[str, Any]) -> None:
        self.envs = [make_eval_env(env_id, hazard, horizon, **env_kwargs) for _ in seeds]
        self.obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(self.envs, seeds, strict=True)])
        self.active = np.ones(len(seeds), dtype=bool)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, ...]:
        idx = np.flatnonzero(self.active)
        out = np.zeros((4, len(idx)))  # reward, risky, penalty, done
        for row, i in enumerate(idx):
            nxt, reward, terminated, truncated, info = self.envs[i].step(actions[row])
            out[:, row] = (reward, info.get("risky_state", False), info.get("hazard_penalty", False),
                           terminated or truncated)
            self.obs[i] = nxt
            if terminated or truncated:
                self.active[i] = False
        return idx, out

    def close(self) -> None:
        for env in self.envs:
            env.close()


def _serve(conn: Any, args: tuple) -> None:
    group = _Envs(*args)
    conn.send(group.obs)
    while True:
        actions = conn.recv()
        if actions is None:
            group.close()
            conn.close()
            return
        idx, out = group.step(actions)
        conn.send((idx, out, group.obs[group.active]))


def rollout(act: Callable[[torch.Tensor], torch.Tensor], env_id: str, hazard: Hazard | None, seeds: list[int],
            horizon: int, device: torch.device | str = "cpu", workers: int = 1, **env_kwargs: Any) -> RolloutResult:
    """Run one episode per seed, all in lock-step; ``act`` maps ``[n, O]`` observations to ``[n, A]`` actions.

    Episode ``i`` resets with ``seeds[i]``, so the result depends only on the policy and the seeds (and
    not on ``workers``, which splits the episodes into contiguous groups stepped by worker processes).
    """
    n = len(seeds)
    groups = [list(part) for part in np.array_split(np.arange(n), max(1, min(workers, n)))]
    returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
    risky, penalties = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    seen_obs, seen_act = [], []
    if len(groups) == 1:
        local = _Envs(env_id, hazard, horizon, list(seeds), env_kwargs)
        while local.active.any():
            idx = np.flatnonzero(local.active)
            obs = local.obs[idx].copy()
            actions = act(torch.as_tensor(obs, dtype=torch.float32, device=device)).detach().float().cpu().numpy()
            seen_obs.append(obs)
            seen_act.append(actions)
            _, out = local.step(actions)
            returns[idx] += out[0]
            risky[idx] += out[1].astype(np.int64)
            penalties[idx] += out[2].astype(np.int64)
            lengths[idx] += 1
        local.close()
    else:
        ctx = multiprocessing.get_context("spawn")
        pipes, procs = [], []
        for group in groups:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(child, (env_id, hazard, horizon, [seeds[i] for i in group],
                                                            env_kwargs)), daemon=True)
            proc.start()
            pipes.append(parent)
            procs.append(proc)
        group_obs = [pipe.recv() for pipe in pipes]
        group_active = [np.arange(len(g)) for g in groups]
        try:
            while any(len(a) for a in group_active):
                live = [j for j, a in enumerate(group_active) if len(a)]
                obs = np.concatenate([group_obs[j] for j in live])
                actions = act(torch.as_tensor(obs, dtype=torch.float32, device=device)).detach().float().cpu().numpy()
                seen_obs.append(obs)
                seen_act.append(actions)
                offset = 0
                for j in live:
                    count = len(group_active[j])
                    pipes[j].send(actions[offset:offset + count])
                    offset += count
                for j in live:
                    idx, out, obs_left = pipes[j].recv()
                    episodes = np.asarray(groups[j])[idx]
                    returns[episodes] += out[0]
                    risky[episodes] += out[1].astype(np.int64)
                    penalties[episodes] += out[2].astype(np.int64)
                    lengths[episodes] += 1
                    group_active[j] = idx[out[3] == 0]
                    group_obs[j] = obs_left
        finally:
            for pipe in pipes:
                pipe.send(None)
            for proc in procs:
                proc.join(timeout=10)
    return RolloutResult(returns, lengths, risky, penalties, np.concatenate(seen_obs), np.concatenate(seen_act))
