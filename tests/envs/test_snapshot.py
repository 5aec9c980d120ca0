"""A saved environment state restored into a fresh environment gives the same transitions, hazard draws included
(``ramac.envs.snapshot``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ramac.envs.bandit import RiskyBandit, RiskyBanditEnv
from ramac.envs.hazards import Hazard
from ramac.envs.snapshot import env_snapshot, restore_env_snapshot
from ramac.evaluation.rollout import make_eval_env

# a pose hazard that fires often, so that its draws are part of what must be restored
HAZARD = Hazard(kind="pose", probability=0.5, penalty=-50.0, obs_index=1, low=-0.01, high=0.01)


def trajectory(env: gym.Env, actions: np.ndarray) -> list[tuple]:
    out = []
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        out.append((obs.tolist(), reward, terminated, truncated, info.get("hazard_penalty")))
        if terminated or truncated:
            break
    return out


def test_hopper_with_its_hazard_continues_bit_for_bit_from_a_snapshot():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(60, 3))
    env = make_eval_env("Hopper-v5", HAZARD, horizon=25)
    env.reset(seed=11)
    trajectory(env, actions[:10])
    saved = env_snapshot(env)
    expected = trajectory(env, actions[10:])
    fresh = make_eval_env("Hopper-v5", HAZARD, horizon=25)
    fresh.reset(seed=999)
    restore_env_snapshot(fresh, saved)
    got = trajectory(fresh, actions[10:])
    assert got == expected
    assert got[-1][3] and len(got) == 15  # the time limit's count was restored: truncated at step 25
    assert any(step[4] for step in expected)  # the hazard drew penalties after the snapshot


def test_the_bandit_continues_from_a_snapshot():
    env = RiskyBanditEnv(RiskyBandit(contextual=True))
    env.reset(seed=4)
    saved = env_snapshot(env)
    expected = [env.step(np.array([0.6, 0.0]))[1]]
    fresh = RiskyBanditEnv(RiskyBandit(contextual=True))
    fresh.reset(seed=5)
    restore_env_snapshot(fresh, saved)
    assert [fresh.step(np.array([0.6, 0.0]))[1]] == expected


def test_an_environment_without_a_known_state_is_refused():
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    with pytest.raises(TypeError, match="cannot save the state of CartPole-v1"):
        env_snapshot(env)
