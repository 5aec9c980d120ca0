"""Re-simulating dataset transitions in a MuJoCo environment (the released code's relabelling).

The released code (``environment/risky_create_hdf5.py``) rebuilds the simulator state of every
dataset transition from its observation, steps it with the transition's action and decides the hazard on
the resulting state. ramac decides the hazard on the stored next observation wherever a file has one and
uses this only for the rows whose true next state a file does not hold: the terminal rows of a file
without ``next_observations`` (``ramac.data.d4rl``).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


def set_state_from_observation(sim: gym.Env, observation: np.ndarray) -> None:
    """Put the MuJoCo env ``sim`` (unwrapped) in the state an observation describes: ``qpos = (0, obs[:nq-1])``,
    ``qvel = obs[nq-1:]`` (the released code's rebuild; the root x-position is not observed and does not change the
    dynamics)."""
    nq, nv = int(sim.model.nq), int(sim.model.nv)
    if observation.shape != (nq - 1 + nv,):
        raise ValueError(f"re-simulation: an observation must have {nq - 1 + nv} values (qpos without root x, then "
                         f"qvel), got shape {observation.shape}")
    observation = observation.astype(np.float64)
    sim.set_state(np.concatenate(([0.0], observation[: nq - 1])), observation[nq - 1:])


def simulate_next_observations(env_id: str, observations: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Next observations ``[R, O]`` of ``R`` transitions ``(observations [R, O], actions [R, A])``.

    The state is rebuilt as the released code does: ``qpos = (0, obs[:nq-1])`` (the root x-position is
    not observed and does not change the dynamics), ``qvel = obs[nq-1:]``; then ``set_state`` and one
    ``step(action)``. Where the observation clipped a joint velocity (Hopper/Walker2d v5 clip to ±10),
    the rebuilt state is not the true one, and neither is the result.
    """
    env = gym.make(env_id)
    try:
        sim = env.unwrapped
        sim.reset(seed=0)
        nq, nv = int(sim.model.nq), int(sim.model.nv)
        if observations.ndim != 2 or observations.shape[1] != nq - 1 + nv:
            raise ValueError(f"re-simulation in {env_id}: observations must be [R, {nq - 1 + nv}] (qpos without "
                             f"root x, then qvel), got {observations.shape}")
        if actions.shape != (observations.shape[0], *env.action_space.shape):
            raise ValueError(f"re-simulation in {env_id}: actions must be [R, {env.action_space.shape[0]}], "
                             f"got {actions.shape}")
        out = np.empty(observations.shape, dtype=np.float64)
        for row, (obs, action) in enumerate(zip(observations.astype(np.float64), actions.astype(np.float64),
                                                strict=True)):
            set_state_from_observation(sim, obs)
            out[row] = sim.step(action)[0]
        return out
    finally:
        env.close()
