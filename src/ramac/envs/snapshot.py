"""The whole state of a running environment, to save in a checkpoint and restore into a fresh one (issue 31: an
online phase resumes exactly).

What a gymnasium environment's future depends on, for the environments ramac steps online:

- MuJoCo locomotion (``gymnasium.envs.mujoco.MujocoEnv``): MuJoCo's integration state (``mjSTATE_INTEGRATION``: time,
  positions, velocities, actuator state, the solver's warm start, controls; MuJoCo's ``mj_getState``), the
  ``TimeLimit`` wrapper's step count and the environment's ``np_random`` (reset noise and, through
  :class:`~ramac.envs.hazards.HazardWrapper`, the hazard's draws);
- an environment that defines ``snapshot() -> dict`` and ``restore(dict)`` (the bandit,
  :class:`~ramac.envs.bandit.RiskyBanditEnv`), plus its ``np_random``.

Restoring needs an environment made the same way and reset once (gymnasium's order checks); stepping it then gives
the same transitions, bit for bit, as stepping the saved one (``tests/envs/test_snapshot.py``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env
        env = env.env
    return None


def _mujoco() -> Any:
    import mujoco

    return mujoco


def env_snapshot(env: gym.Env) -> dict[str, Any]:
    """Everything ``env``'s next transitions depend on (see the module docstring), as plain Python values (a
    checkpoint holding them loads with ``torch.load(weights_only=True)``)."""
    base = env.unwrapped
    state: dict[str, Any] = {"np_random": base.np_random.bit_generator.state}
    limit = _time_limit(env)
    state["elapsed_steps"] = None if limit is None else limit._elapsed_steps
    if hasattr(base, "snapshot") and hasattr(base, "restore"):
        state["env"] = base.snapshot()
    elif hasattr(base, "model") and hasattr(base, "data"):  # gymnasium's MujocoEnv
        mujoco = _mujoco()
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        physics = np.empty(mujoco.mj_stateSize(base.model, spec))
        mujoco.mj_getState(base.model, base.data, physics, spec)
        state["mujoco"] = physics.tolist()  # plain floats: checkpoints load with torch's weights_only
    else:
        raise TypeError(f"cannot save the state of {base.spec.id if base.spec else type(base).__name__}: it is "
                        "neither a MuJoCo environment nor one with snapshot()/restore() (ramac.envs.snapshot)")
    return state


def restore_env_snapshot(env: gym.Env, state: dict[str, Any]) -> None:
    """Put ``env`` (made as the saved one was, and reset once) into the saved ``state``."""
    base = env.unwrapped
    base.np_random.bit_generator.state = state["np_random"]
    limit = _time_limit(env)
    if (limit is None) != (state["elapsed_steps"] is None):
        raise ValueError("the saved environment and this one differ in their time limit (TimeLimit wrapper)")
    if limit is not None:
        limit._elapsed_steps = state["elapsed_steps"]
    if "env" in state:
        base.restore(state["env"])
    else:
        mujoco = _mujoco()
        physics = np.asarray(state["mujoco"], dtype=np.float64)
        spec = mujoco.mjtState.mjSTATE_INTEGRATION
        if physics.shape != (mujoco.mj_stateSize(base.model, spec),):
            raise ValueError(f"saved MuJoCo state has {physics.shape[0]} values, {base.spec.id if base.spec else base} "
                             f"needs {mujoco.mj_stateSize(base.model, spec)}")
        mujoco.mj_setState(base.model, base.data, physics, spec)
