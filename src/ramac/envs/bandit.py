"""The 2-D risky bandit of RAMAC's Fig. 3, with our own (documented) geometry and rewards.

The paper describes "a safe center mode (moderate reward, no catastrophic tail) and a risky ring
(higher mean with rare large penalties)" but publishes no numbers (arXiv 2510.02695, Fig. 3). The values below
are **ours**. With the defaults:

- actions live in ``[-1, 1]²``; distances ``ρ = |a - c|`` are measured from the mode centre ``c``;
- behaviour policy: with probability 1/2 the safe centre, ``a ~ N(c, 0.08² I)``; otherwise the ring,
  angle ``~ U(0, 2π)``, radius ``~ N(0.6, 0.04²)``;
- reward: ``N(1, 0.1²)`` in the safe disc ``ρ <= 0.25``; on the ring band ``|ρ - 0.6| <= 0.15`` it is
  ``N(4, 0.1²)``, replaced by the penalty ``-10`` with probability 0.15 (mean 1.9, CVaR₀.₁ = -10);
  elsewhere ``N(0, 0.1²)`` (no data there);
- contextual variant: a context ``s ~ U([-1, 1]²)`` is the observation and moves the centre to
  ``c = 0.2 s``; the non-contextual variant observes ``s = 0``.

A risk-neutral learner prefers the ring (mean 1.9 > 1); a CVaR₀.₁ learner prefers the centre
(0.82 > -10). Behaviour cloning covers both modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

SAFE, RING, ELSEWHERE = 0, 1, 2


@dataclass(frozen=True)
class RiskyBandit:
    """Geometry and reward law of the bandit (see module docstring; all values are ours)."""

    contextual: bool = False
    context_shift: float = 0.2
    safe_std: float = 0.08
    safe_radius: float = 0.25
    safe_reward: float = 1.0
    ring_radius: float = 0.6
    ring_std: float = 0.04
    ring_halfwidth: float = 0.15
    ring_reward: float = 4.0
    penalty: float = -10.0
    penalty_probability: float = 0.15
    reward_noise: float = 0.1
    safe_share: float = 0.5

    obs_dim: int = 2
    action_dim: int = 2

    def sample_contexts(self, n: int, rng: np.random.Generator) -> np.ndarray:  # [n, 2]
        if not self.contextual:
            return np.zeros((n, self.obs_dim), dtype=np.float64)
        return rng.uniform(-1.0, 1.0, size=(n, self.obs_dim))

    def centres(self, contexts: np.ndarray) -> np.ndarray:  # [n, 2] -> [n, 2]
        return self.context_shift * contexts if self.contextual else np.zeros_like(contexts)

    def sample_behaviour(self, contexts: np.ndarray, rng: np.random.Generator) -> np.ndarray:  # [n, 2]
        n = contexts.shape[0]
        centre = self.centres(contexts)
        safe = rng.random(n) < self.safe_share
        angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
        radius = rng.normal(self.ring_radius, self.ring_std, size=n)
        ring = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
        gauss = rng.normal(0.0, self.safe_std, size=(n, 2))
        return np.clip(centre + np.where(safe[:, None], gauss, ring), -1.0, 1.0)

    def regions(self, contexts: np.ndarray, actions: np.ndarray) -> np.ndarray:  # [n] in {SAFE, RING, ELSEWHERE}
        rho = np.linalg.norm(actions - self.centres(contexts), axis=1)
        out = np.full(rho.shape, ELSEWHERE, dtype=np.int64)
        out[rho <= self.safe_radius] = SAFE
        out[np.abs(rho - self.ring_radius) <= self.ring_halfwidth] = RING
        return out

    def rewards(self, contexts: np.ndarray, actions: np.ndarray, rng: np.random.Generator
                ) -> tuple[np.ndarray, np.ndarray]:
        """Sampled rewards ``[n]`` and penalty flags ``[n]`` for actions taken in contexts."""
        region = self.regions(contexts, actions)
        base = np.select([region == SAFE, region == RING], [self.safe_reward, self.ring_reward], 0.0)
        reward = base + rng.normal(0.0, self.reward_noise, size=base.shape)
        penalised = (region == RING) & (rng.random(base.shape) < self.penalty_probability)
        return np.where(penalised, self.penalty, reward), penalised

    def safe_fraction(self, contexts: np.ndarray, actions: np.ndarray) -> float:
        return float(np.mean(self.regions(contexts, actions) == SAFE))


class RiskyBanditEnv(gym.Env):
    """One-step gymnasium version of :class:`RiskyBandit` (``info['risky_state']`` on the ring)."""

    def __init__(self, bandit: RiskyBandit | None = None) -> None:
        self.bandit = bandit or RiskyBandit()
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(self.bandit.obs_dim,), dtype=np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(self.bandit.action_dim,), dtype=np.float32)
        self._context = np.zeros(self.bandit.obs_dim)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._context = self.bandit.sample_contexts(1, self.np_random)[0]
        return self._context.copy(), {}

    def snapshot(self) -> dict[str, Any]:
        """The context drawn at the last reset (with ``np_random``, the whole state: ``ramac.envs.snapshot``)."""
        return {"context": self._context.tolist()}

    def restore(self, state: dict[str, Any]) -> None:
        self._context = np.asarray(state["context"], dtype=np.float64).copy()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        act = np.clip(np.asarray(action, dtype=np.float64).reshape(1, -1), -1.0, 1.0)
        ctx = self._context[None]
        reward, penalised = self.bandit.rewards(ctx, act, self.np_random)
        region = int(self.bandit.regions(ctx, act)[0])
        info = {"risky_state": region == RING, "hazard_penalty": bool(penalised[0]), "safe": region == SAFE}
        return self._context.copy(), float(reward[0]), True, False, info
