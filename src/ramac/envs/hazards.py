"""Stochastic-D4RL hazards: rare heavy penalties in MuJoCo locomotion (RAMAC, arXiv 2510.02695, §5).

RAMAC's rule (released code ``environment/risky_wrappers.py``, reimplemented):

- ``pose`` (Hopper, Walker2d): the state is risky when the torso pitch of the **next** observation,
  ``obs[1]``, is outside ``[low, high]``; the episode also terminates when
  ``|obs[1]| > termination_factor · |high|``;
- ``velocity`` (HalfCheetah): the state is risky when ``|obs[8]| > max_velocity`` (root x-velocity);
- in a risky state the penalty is **added** to the reward with probability ``probability``.

A third kind is ours, not the paper's (issue 32: a risk "defined by other metrics (e.g. energy consumption)"):

- ``energy``: the step is risky when the action's energy ``‖a‖²`` exceeds ``max_energy``, which the data module sets
  to the ``energy_quantile`` quantile of the dataset's action energies (so a known share of the data's actions is
  risky); the penalty fires with probability ``probability`` as for the others.

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


@dataclass(frozen=True)
class Hazard:
    """Parameters of one task's hazard (the per-task values live in ``conf/<task>.yaml``).

    Args:
        kind: ``pose``, ``velocity`` or ``energy`` (ours: the action's ``‖a‖²``).
        probability: chance of the penalty in a risky state.
        penalty: added to the reward when the penalty fires (negative).
        obs_index: observation entry read (pose: 1, torso pitch; velocity: 8, root x-velocity).
        low, high: healthy pitch range (pose).
        max_velocity: speed limit (velocity).
        termination_factor: pose only; terminate when ``|obs[obs_index]| > factor · |high|``.
        rule: ``ramac`` (default) or ``oraac`` (see module docstring).
        energy_quantile: energy only; the quantile of the dataset's action energies that ``max_energy`` is set to.
        max_energy: energy only; the threshold on ``‖a‖²`` (set from ``energy_quantile`` by the data module, or given).
    """

    kind: Literal["pose", "velocity", "energy"]
    probability: float
    penalty: float
    obs_index: int = 1
    low: float | None = None
    high: float | None = None
    max_velocity: float | None = None
    termination_factor: float | None = None
    rule: Literal["ramac", "oraac"] = "ramac"
    energy_quantile: float | None = None
    max_energy: float | None = None

    def __post_init__(self) -> None:
        where = "data.hazard"
        if self.kind not in ("pose", "velocity", "energy"):
            raise ValueError(f"{where}.kind must be 'pose', 'velocity' or 'energy', got {self.kind!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"{where}.probability must be in [0, 1], got {self.probability}")
        if self.rule not in ("ramac", "oraac"):
            raise ValueError(f"{where}.rule must be 'ramac' or 'oraac', got {self.rule!r}")
        if self.obs_index < 0:
            raise ValueError(f"{where}.obs_index must be >= 0, got {self.obs_index}")
        if self.kind == "pose":
            if self.low is None or self.high is None or not self.low < self.high:
                raise ValueError(f"{where}: a pose hazard needs low < high, got low={self.low}, high={self.high}")
        elif self.kind == "velocity":
            if self.max_velocity is None or self.max_velocity <= 0:
                raise ValueError(f"{where}: a velocity hazard needs max_velocity > 0, got {self.max_velocity}")
        else:
            if self.energy_quantile is None and self.max_energy is None:
                raise ValueError(f"{where}: an energy hazard needs energy_quantile (in (0, 1)) or max_energy")
            if self.energy_quantile is not None and not 0.0 < self.energy_quantile < 1.0:
                raise ValueError(f"{where}.energy_quantile must be in (0, 1), got {self.energy_quantile}")
            if self.max_energy is not None and not self.max_energy > 0:
                raise ValueError(f"{where}.max_energy must be > 0, got {self.max_energy}")
        given = {"low": self.low, "high": self.high, "max_velocity": self.max_velocity,
                 "termination_factor": self.termination_factor, "energy_quantile": self.energy_quantile,
                 "max_energy": self.max_energy}
        own = {"pose": {"low", "high", "termination_factor"}, "velocity": {"max_velocity"},
               "energy": {"energy_quantile", "max_energy"}}[self.kind]
        stray = sorted(name for name, value in given.items() if value is not None and name not in own)
        if stray:
            raise ValueError(f"{where}: {stray} do not apply to the {self.kind} hazard (set them to null)")

    def with_energy_threshold(self, actions: np.ndarray) -> Hazard:
        """An energy hazard with ``max_energy`` set to the ``energy_quantile`` quantile of ``‖a‖²`` over ``actions
        [R, A]`` (a dataset's; ``np.quantile``'s linear interpolation); any other hazard unchanged."""
        if self.kind != "energy" or self.energy_quantile is None:
            return self
        threshold = float(np.quantile(action_energy(actions), self.energy_quantile))
        return replace(self, max_energy=threshold)

    def is_risky_step(self, next_observations: np.ndarray, actions: np.ndarray) -> np.ndarray:  # [..., O], [..., A]
        """Whether each step is risky: by its next observation (pose, velocity) or its action (energy)."""
        if self.kind != "energy":
            return self.is_risky(next_observations)
        if self.max_energy is None:
            raise ValueError("data.hazard: the energy hazard's threshold is not set yet (max_energy); it is set "
                             "from the dataset's actions (energy_quantile) when the data are loaded")
        return action_energy(actions) > self.max_energy

    def is_risky(self, observations: np.ndarray) -> np.ndarray:  # [..., O] -> [...] bool
        """Pose and velocity hazards: whether each observation is risky (energy: see :meth:`is_risky_step`)."""
        if self.kind == "energy":
            raise ValueError("an energy hazard is decided on the action: use Hazard.is_risky_step")
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


def action_energy(actions: np.ndarray) -> np.ndarray:  # [..., A] -> [...]
    """``‖a‖²``, the energy hazard's measure of an action."""
    return np.square(np.asarray(actions, dtype=np.float64)).sum(-1)


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
        risky = bool(self.hazard.is_risky_step(obs, np.asarray(action, dtype=np.float64)))
        penalised = risky and bool(self.np_random.random() < self.hazard.probability)
        if penalised:
            reward = float(reward) + self.hazard.penalty
        info["risky_state"] = risky
        info["hazard_penalty"] = penalised
        if bool(self.hazard.terminates(obs)):
            terminated = True
        return obs, reward, terminated, truncated, info
