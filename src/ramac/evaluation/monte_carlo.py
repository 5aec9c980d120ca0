"""Monte-Carlo returns from dataset state-action pairs (the ground truth of ``ramac calibrate``).

For each pair ``(s, a)``: ``copies`` environments of the task (hazard-wrapped, each reset with its own seed, so each
draws its own penalties) are put in the state ``s`` describes
(:func:`ramac.envs.resimulation.set_state_from_observation`), step ``a``, then follow the policy until they
terminate or reach ``horizon`` steps; the return is ``c · Σ_t γ^t r_t`` with the critic's discount γ and the
training data's reward scale ``c``. The policy acts once per step on every live copy of every pair together.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ramac.envs.hazards import Hazard
from ramac.envs.resimulation import set_state_from_observation
from ramac.evaluation.rollout import make_eval_env


def discounted_horizon(discount: float, tail: float = 1e-3) -> int:
    """The fewest steps after which ``γ^H ≤ tail``: the rest of an infinite-horizon discounted return weighs less
    than ``tail`` of a step's reward scale (688 steps at γ = 0.99)."""
    if not 0 < discount < 1:
        raise ValueError(f"discount must be in (0, 1), got {discount}")
    return math.ceil(math.log(tail) / math.log(discount))


def monte_carlo_returns(env_id: str, hazard: Hazard | None, observations: np.ndarray, actions: np.ndarray,
                        act: Callable[[np.ndarray], np.ndarray], copies: int, horizon: int, discount: float,
                        seed: int, reward_scale: float = 1.0) -> np.ndarray:
    """Returns ``[P, copies]`` of the pairs ``observations [P, O]``, ``actions [P, A]`` (module docstring); copy ``j``
    of pair ``p`` resets with seed ``seed + p · copies + j``. ``act`` maps observations ``[n, O]`` to actions
    ``[n, A]``."""
    if observations.ndim != 2 or actions.ndim != 2 or len(observations) != len(actions):
        raise ValueError(f"observations must be [P, O] and actions [P, A], got {observations.shape} and "
                         f"{actions.shape}")
    if copies < 1 or horizon < 1:
        raise ValueError(f"copies and horizon must be >= 1, got {copies} and {horizon}")
    pairs = len(observations)
    envs = [make_eval_env(env_id, hazard, horizon) for _ in range(pairs * copies)]
    try:
        totals = np.zeros(len(envs))
        obs = np.zeros((len(envs), observations.shape[1]))
        active = np.ones(len(envs), dtype=bool)
        for index, env in enumerate(envs):
            env.reset(seed=seed + index)
            pair = index // copies
            set_state_from_observation(env.unwrapped, observations[pair])
            obs[index], reward, terminated, truncated, _ = env.step(actions[pair])
            totals[index] = reward
            active[index] = not (terminated or truncated)
        weight = discount
        while active.any():
            live = np.flatnonzero(active)
            chosen = act(obs[live])
            for row, index in enumerate(live):
                obs[index], reward, terminated, truncated, _ = envs[index].step(chosen[row])
                totals[index] += weight * reward
                active[index] = not (terminated or truncated)
            weight *= discount
        return reward_scale * totals.reshape(pairs, copies)
    finally:
        for env in envs:
            env.close()
