"""Stochastic-D4RL hazards applied to an offline dataset: the rewards relabelled, reproducibly
(the hazard itself, and its online wrapper, are in :mod:`ramac.envs.hazards`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ramac.data.transitions import Transitions
from ramac.envs.hazards import Hazard


@dataclass(frozen=True)
class Relabelled:
    """A relabelled dataset and, per transition, whether the state was risky and the penalty fired."""

    transitions: Transitions
    risky: np.ndarray  # [R] bool
    penalised: np.ndarray  # [R] bool


def relabel(transitions: Transitions, hazard: Hazard, seed: int) -> Relabelled:
    """Apply ``hazard`` to the rewards of an offline dataset, reproducibly.

    Transition ``i`` is risky when its next observation is (O-RAAC pose rule: its observation; the energy
    hazard: its action, with ``max_energy`` set, :meth:`Hazard.with_energy_threshold`); one
    uniform draw per transition from ``np.random.default_rng(seed)`` decides the penalty, which is added
    to the stored reward. Observations, actions and terminals are unchanged (as in the released code,
    the hazard adds no terminals). The next observation must be the true next state, terminal rows
    included (``Transitions.terminal_next``): a fall is where the pose hazard fires. The released code
    instead adds the penalty to the reward of its re-simulated step, which differs from the stored one
    where the observation clipped a joint velocity; ramac keeps the stored reward.
    """
    reads_current = hazard.rule == "oraac" and hazard.kind == "pose"
    observed = transitions.observations if reads_current else transitions.next_observations
    if hazard.kind != "energy" and not reads_current and transitions.terminal_next == "following row":
        raise ValueError(f"{transitions.source}: the hazard is decided on the next observation, but the next "
                         f"observations of its {int(transitions.terminals.sum())} terminal rows are the following "
                         "rows (the next episode's first state); load the file with its next_observations or "
                         "re-simulate them (ramac.data.d4rl.d4rl_transitions, simulate_next)")
    if hazard.obs_index >= observed.shape[1]:
        raise ValueError(f"{transitions.source}: hazard reads obs[{hazard.obs_index}] but observations have "
                         f"{observed.shape[1]} entries")
    risky = hazard.is_risky_step(observed, transitions.actions)
    draws = np.random.default_rng(seed).random(len(transitions))
    penalised = risky & (draws < hazard.probability)
    rewards = transitions.rewards + np.where(penalised, hazard.penalty, 0.0).astype(np.float32)
    relabelled = replace(transitions, rewards=rewards, source=f"{transitions.source} + hazard(seed={seed})")
    return Relabelled(relabelled, risky, penalised)
