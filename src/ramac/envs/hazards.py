"""Stochastic-D4RL hazards: rare heavy penalties in MuJoCo locomotion (RAMAC, paper-notes §4).

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

from dataclasses import dataclass, replace
from typing import Any, Literal

import gymnasium as gym
import numpy as np

from ramac.data.transitions import Transitions


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


@dataclass(frozen=True)
class Relabelled:
    """A relabelled dataset and, per transition, whether the state was risky and the penalty fired."""

    transitions: Transitions
    risky: np.ndarray  # [N] bool
    penalised: np.ndarray  # [N] bool


def relabel(transitions: Transitions, hazard: Hazard, seed: int) -> Relabelled:
    """Apply ``hazard`` to the rewards of an offline dataset, reproducibly.

    Transition ``i`` is risky when its next observation is (O-RAAC pose rule: its observation); one
    uniform draw per transition from ``np.random.default_rng(seed)`` decides the penalty, which is added
    to the stored reward. Observations, actions and terminals are unchanged (as in the released code,
    the hazard adds no terminals). The next observation must be the true next state, terminal rows
    included (``Transitions.terminal_next``): a fall is where the pose hazard fires. The released code
    instead adds the penalty to the reward of its re-simulated step, which differs from the stored one
    where the observation clipped a joint velocity; ramac keeps the stored reward.
    """
    reads_current = hazard.rule == "oraac" and hazard.kind == "pose"
    observed = transitions.observations if reads_current else transitions.next_observations
    if not reads_current and transitions.terminal_next == "following row":
        raise ValueError(f"{transitions.source}: the hazard is decided on the next observation, but the next "
                         f"observations of its {int(transitions.terminals.sum())} terminal rows are the following "
                         "rows (the next episode's first state); load the file with its next_observations or "
                         "re-simulate them (ramac.data.d4rl.d4rl_transitions, simulate_next)")
    if hazard.obs_index >= observed.shape[1]:
        raise ValueError(f"{transitions.source}: hazard reads obs[{hazard.obs_index}] but observations have "
                         f"{observed.shape[1]} entries")
    risky = hazard.is_risky(observed)
    draws = np.random.default_rng(seed).random(len(transitions))
    penalised = risky & (draws < hazard.probability)
    rewards = transitions.rewards + np.where(penalised, hazard.penalty, 0.0).astype(np.float32)
    relabelled = replace(transitions, rewards=rewards, source=f"{transitions.source} + hazard(seed={seed})")
    return Relabelled(relabelled, risky, penalised)
