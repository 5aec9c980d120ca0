"""Stochastic-D4RL hazards: rare heavy penalties in MuJoCo locomotion (RAMAC, arXiv 2510.02695, §5).

RAMAC's rule (released code ``environment/risky_wrappers.py``, reimplemented):

- ``pose`` (Hopper, Walker2d): the state is risky when the torso pitch of the **next** observation,
  ``obs[1]``, is outside ``[low, high]``; the episode also terminates when
  ``|obs[1]| > termination_factor · |high|``;
- ``velocity`` (HalfCheetah): the state is risky when ``|obs[8]| > max_velocity`` (root x-velocity);
- in a risky state the penalty is **added** to the reward with probability ``probability``.

Random draws come from the environment's ``np_random`` (seeded by ``reset(seed=...)``), or, for
dataset relabelling, from a seeded NumPy generator: the released code uses Python's unseeded
``random`` in both places. ``rule="oraac"`` gives O-RAAC's variant (signed velocity ``obs[8] >
max_velocity``; dataset pose penalties decided on the current observation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class Hazard:
    """Parameters of one task's hazard (the per-task values live in ``conf/<task>.yaml``).

    Args:
        kind: ``pose`` or ``velocity``.
        probability: chance of the penalty in a risky state.
        penalty: added to the reward when the penalty fires (negative).
        obs_index: observation entry read (pose: 1, torso pitch; velocity: 8, root x-velocity).
        low, high: healthy pitch range (pose).
        max_velocity: speed limit (velocity).
        termination_factor: pose only; terminate when ``|obs[obs_index]| > factor · |high|``.
        rule: ``ramac`` (default) or ``oraac`` (see module docstring).
    """

    kind: Literal["pose", "velocity"]
    probability: float
    penalty: float
    obs_index: int = 1
    low: float | None = None
    high: float | None = None
    max_velocity: float | None = None
    termination_factor: float | None = None
    rule: Literal["ramac", "oraac"] = "ramac"

    def __post_init__(self) -> None:
        where = "data.hazard"
        if self.kind not in ("pose", "velocity"):
            raise ValueError(f"{where}.kind must be 'pose' or 'velocity', got {self.kind!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"{where}.probability must be in [0, 1], got {self.probability}")
        if self.rule not in ("ramac", "oraac"):
            raise ValueError(f"{where}.rule must be 'ramac' or 'oraac', got {self.rule!r}")
        if self.obs_index < 0:
            raise ValueError(f"{where}.obs_index must be >= 0, got {self.obs_index}")
        if self.kind == "pose":
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"{where}: a pose hazard needs low < high, got low={self.low}, high={self.high}")
        elif self.max_velocity is None or self.max_velocity <= 0:
            raise ValueError(f"{where}: a velocity hazard needs max_velocity > 0, got {self.max_velocity}")

    def is_risky(self, observations: np.ndarray) -> np.ndarray:  # [..., O] -> [...] bool
        value = np.asarray(observations)[..., self.obs_index]
        if self.kind == "pose":
            return (value < self.low) | (value > self.high)
        if self.rule == "oraac":
            return value > self.max_velocity
        return np.abs(value) > self.max_velocity

    def terminates(self, observations: np.ndarray) -> np.ndarray:  # [..., O] -> [...] bool
        value = np.asarray(observations)[..., self.obs_index]
        if self.kind != "pose" or self.termination_factor is None:
            return np.zeros(value.shape, dtype=bool)
        return np.abs(value) > self.termination_factor * abs(self.high)


class HazardWrapper(gym.Wrapper):
    """Adds a :class:`Hazard` to a gymnasium env: ``info['risky_state']``, ``info['hazard_penalty']``."""

    def __init__(self, env: gym.Env, hazard: Hazard) -> None:
        super().__init__(env)
        shape = env.observation_space.shape
        if shape is None or hazard.obs_index >= shape[0]:
            raise ValueError(f"hazard reads obs[{hazard.obs_index}] but {env.spec.id if env.spec else env} "
                             f"observations have shape {shape}")
        self.hazard = hazard

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        risky = bool(self.hazard.is_risky(obs))
        penalised = risky and bool(self.np_random.random() < self.hazard.probability)
        if penalised:
            reward = float(reward) + self.hazard.penalty
        info["risky_state"] = risky
        info["hazard_penalty"] = penalised
        if bool(self.hazard.terminates(obs)):
            terminated = True
        return obs, reward, terminated, truncated, info
