"""Batched evaluation rollouts: all episodes step together and the policy acts on the whole batch.

:class:`EnvPool` keeps the environments alive between evaluations. With ``workers = k > 1`` the
episodes are split into ``k`` contiguous groups: this process steps the first group while ``k - 1``
worker processes, started once per pool, step the others in parallel; the policy still acts once per
step on every live episode, in this process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from ramac.envs.hazards import Hazard, HazardWrapper


@dataclass
class RolloutResult:
    returns: np.ndarray  # [V]
    lengths: np.ndarray  # [V]
    risky_steps: np.ndarray  # [V]
    penalties: np.ndarray  # [V]
    observations: np.ndarray  # [S, O] every visited state at which the policy acted
    actions: np.ndarray  # [S, A]


def make_eval_env(env_id: str, hazard: Hazard | None, horizon: int, **env_kwargs: Any) -> gym.Env:
    env = gym.make(env_id, max_episode_steps=horizon, **env_kwargs)
    return HazardWrapper(env, hazard) if hazard is not None else env


class EnvGroup:
    """Episodes stepped in one process. Environments are made once and reused: ``reset(seeds)`` reseeds
    them, which restores exactly the state of a fresh environment reset with the same seed."""

    def __init__(self, env_id: str, hazard: Hazard | None, horizon: int, env_kwargs: dict[str, Any]) -> None:
        self.spec = (env_id, hazard, horizon, env_kwargs)
        self.envs: list[gym.Env] = []
        self.obs = np.zeros((0, 0))
        self.active = np.zeros(0, dtype=bool)

    def reset(self, seeds: list[int]) -> np.ndarray:  # -> [n, O]
        env_id, hazard, horizon, env_kwargs = self.spec
        while len(self.envs) < len(seeds):
            self.envs.append(make_eval_env(env_id, hazard, horizon, **env_kwargs))
        if not seeds:
            self.obs, self.active = np.zeros((0, 0)), np.zeros(0, dtype=bool)
            return self.obs
        self.obs = np.stack([env.reset(seed=seed)[0] for env, seed in zip(self.envs, seeds, strict=False)])
        self.active = np.ones(len(seeds), dtype=bool)
        return self.obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Step the active episodes with ``actions [n_active, A]``; returns their indices, a ``[4,
        n_active]`` array of (reward, risky, penalty, done) and the observations still active."""
        idx = np.flatnonzero(self.active)
        out = np.zeros((4, len(idx)))
        for row, i in enumerate(idx):
            nxt, reward, terminated, truncated, info = self.envs[i].step(actions[row])
            out[:, row] = (reward, info.get("risky_state", False), info.get("hazard_penalty", False),
                           terminated or truncated)
            self.obs[i] = nxt
            if terminated or truncated:
                self.active[i] = False
        return idx, out, self.obs[self.active]

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


def _serve(conn: Any, spec: tuple) -> None:
    """Worker loop: ``("reset", seeds)``, ``("step", actions)`` or ``("close", None)``; every reply is
    ``("ok", payload)`` or ``("error", traceback)``."""
    group = EnvGroup(*spec)
    while True:
        command, payload = conn.recv()
        if command == "close":
            group.close()
            conn.close()
            return
        try:
            reply = group.reset(payload) if command == "reset" else group.step(payload)
            conn.send(("ok", reply))
        except Exception:  # the traceback goes back to the caller
            conn.send(("error", traceback.format_exc()))


def _shutdown(pipes: list[Any], procs: list[Any]) -> None:
    for pipe in pipes:
        with contextlib.suppress(OSError):  # a worker that already exited
            pipe.send(("close", None))
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()


class EnvPool:
    """Hazard-wrapped evaluation environments for batched rollouts, kept between evaluations.

    Args:
        env_id, hazard, horizon: the environment (``gym.make(env_id, max_episode_steps=horizon)``,
            wrapped in :class:`HazardWrapper` when ``hazard`` is given).
        workers: groups stepped in parallel: this process plus ``workers - 1`` worker processes
            (started with ``fork`` where available: they only run the simulator, never torch).
        env_kwargs: passed to ``gym.make``.
    """

    def __init__(self, env_id: str, hazard: Hazard | None, horizon: int, workers: int = 1,
                 **env_kwargs: Any) -> None:
        if workers < 1:
            raise ValueError(f"env_workers must be >= 1, got {workers}")
        if horizon < 1:
            raise ValueError(f"evaluation horizon must be >= 1, got {horizon}")
        spec = (env_id, hazard, horizon, env_kwargs)
        self.env_id, self.workers = env_id, workers
        self.local = EnvGroup(*spec)
        self.pipes: list[Any] = []
        procs: list[Any] = []
        if workers > 1:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            ctx = multiprocessing.get_context(method)
            for _ in range(workers - 1):
                parent, child = ctx.Pipe()
                proc = ctx.Process(target=_serve, args=(child, spec), daemon=True)
                proc.start()
                child.close()
                self.pipes.append(parent)
                procs.append(proc)
        self._finalizer = weakref.finalize(self, _shutdown, self.pipes, procs)

    def close(self) -> None:
        self.local.close()
        self._finalizer()

    def __enter__(self) -> EnvPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(self, command: str, payloads: list[Any]) -> list[Any]:
        """Send ``(command, payloads[j])`` to group ``j`` (group 0 is this process; ``None`` skips a
        group) and return the replies. Every worker's reply is read even when a group fails, so the pool
        stays usable after an error."""
        for worker, pipe in enumerate(self.pipes):  # workers first, so they run while this process does
            if payloads[worker + 1] is not None:
                pipe.send((command, payloads[worker + 1]))
        run = self.local.reset if command == "reset" else self.local.step
        replies: list[Any] = [None] * len(payloads)
        local_error: Exception | None = None
        try:
            replies[0] = None if payloads[0] is None else run(payloads[0])
        except Exception as error:  # re-raised below, once the workers are drained
            local_error = error
        failures = []
        for worker, pipe in enumerate(self.pipes):
            if payloads[worker + 1] is not None:
                status, replies[worker + 1] = pipe.recv()
                if status == "error":
                    failures.append(f"evaluation worker {worker + 1} ({self.env_id}) failed:\n"
                                    f"{replies[worker + 1]}")
        if failures:
            raise RuntimeError("\n".join(failures))
        if local_error is not None:
            raise local_error
        return replies

    def rollout(self, act: Callable[[torch.Tensor], torch.Tensor], seeds: list[int],
                device: torch.device | str = "cpu") -> RolloutResult:
        """Run one episode per seed, all in lock-step; ``act`` maps ``[n, O]`` observations to ``[n, A]``
        actions for the ``n`` live episodes, in episode order.

        Episode ``i`` resets with ``seeds[i]``, so the result depends only on the policy and the seeds,
        not on ``workers`` or on earlier rollouts of the pool.
        """
        n = len(seeds)
        groups = np.array_split(np.arange(n), self.workers)
        group_obs = self._exchange("reset", [[seeds[i] for i in group] for group in groups])
        live = [np.arange(len(group)) for group in groups]  # per group: its episodes still running
        returns, lengths = np.zeros(n), np.zeros(n, dtype=np.int64)
        risky, penalties = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        seen_obs, seen_act = [], []
        while any(len(a) for a in live):
            obs = np.concatenate([o for o, a in zip(group_obs, live, strict=True) if len(a)])
            actions = act(torch.as_tensor(obs, dtype=torch.float32, device=device)).detach().float().cpu().numpy()
            if actions.ndim != 2 or len(actions) != len(obs):
                raise ValueError(f"act returned actions of shape {actions.shape} for {len(obs)} observations")
            seen_obs.append(obs)
            seen_act.append(actions)
            chunks = np.split(actions, np.cumsum([len(a) for a in live])[:-1])
            replies = self._exchange("step", [c if len(a) else None for c, a in zip(chunks, live, strict=True)])
            for j, reply in enumerate(replies):
                if reply is None:
                    continue
                idx, out, group_obs[j] = reply
                episodes = groups[j][idx]
                returns[episodes] += out[0]
                risky[episodes] += out[1].astype(np.int64)
                penalties[episodes] += out[2].astype(np.int64)
                lengths[episodes] += 1
                live[j] = idx[out[3] == 0]
        return RolloutResult(returns, lengths, risky, penalties, np.concatenate(seen_obs), np.concatenate(seen_act))


def rollout(act: Callable[[torch.Tensor], torch.Tensor], env_id: str, hazard: Hazard | None, seeds: list[int],
            horizon: int, device: torch.device | str = "cpu", workers: int = 1, **env_kwargs: Any) -> RolloutResult:
    """One batched rollout in a temporary :class:`EnvPool` (see :meth:`EnvPool.rollout`)."""
    with EnvPool(env_id, hazard, horizon, max(1, min(workers, len(seeds))), **env_kwargs) as pool:
        return pool.rollout(act, seeds, device)
