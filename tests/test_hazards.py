"""Stochastic-D4RL hazards: wrapper semantics and seeding, relabelling, the six tasks' parameters."""

from __future__ import annotations

import os
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import yaml

from ramac.data.transitions import Transitions
from ramac.envs.hazards import Hazard, HazardWrapper, relabel

POSE = Hazard(kind="pose", probability=0.5, penalty=-50.0, obs_index=1, low=-0.1, high=0.1, termination_factor=2.0)
VELOCITY = Hazard(kind="velocity", probability=0.5, penalty=-70.0, obs_index=8, max_velocity=10.0)


class ScriptedEnv(gym.Env):
    """Returns a prescribed observation sequence, reward 1 and never terminates on its own."""

    def __init__(self, sequence: np.ndarray) -> None:
        self.sequence = sequence
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=sequence.shape[1:])
        self.action_space = gym.spaces.Box(-1, 1, shape=(1,))
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.sequence[0], {}

    def step(self, action):
        self.t += 1
        return self.sequence[self.t], 1.0, False, False, {}


def test_pose_flags_penalty_rate_and_termination():
    pitches = np.concatenate([[0.0], np.full(4000, 0.15), [0.05], [0.25]])
    obs = np.zeros((len(pitches), 11))
    obs[:, 1] = pitches
    env = HazardWrapper(ScriptedEnv(obs), POSE)
    env.reset(seed=0)
    results = [env.step(np.zeros(1)) for _ in range(len(pitches) - 1)]
    risky = np.array([r[4]["risky_state"] for r in results])
    penalties = np.array([r[4]["hazard_penalty"] for r in results])
    rewards = np.array([r[1] for r in results])
    assert risky[:4000].all() and not risky[4000] and risky[4001]
    assert penalties[:4000].mean() == pytest.approx(0.5, abs=0.03)
    assert np.all(rewards[penalties] == 1.0 - 50.0) and np.all(rewards[~penalties] == 1.0)
    assert not any(r[2] for r in results[:4001])
    assert results[4001][2]  # |0.25| > 2 * 0.1 terminates


def test_velocity_uses_absolute_speed_and_oraac_the_signed_one():
    obs = np.zeros((3, 17))
    obs[:, 8] = [0.0, -12.0, 12.0]
    flags = VELOCITY.is_risky(obs)
    assert flags.tolist() == [False, True, True]
    oraac = Hazard(kind="velocity", probability=0.5, penalty=-70.0, obs_index=8, max_velocity=10.0, rule="oraac")
    assert oraac.is_risky(obs).tolist() == [False, False, True]
    assert not VELOCITY.terminates(obs).any()


def test_wrapper_is_reproducible_from_the_reset_seed():
    hazard = Hazard(kind="pose", probability=0.5, penalty=-50.0, low=-0.05, high=0.05, termination_factor=100.0)

    def episode(seed):
        env = HazardWrapper(gym.make("Hopper-v5"), hazard)
        env.reset(seed=seed)
        rng = np.random.default_rng(1)
        out = []
        for _ in range(60):
            _, reward, terminated, truncated, info = env.step(rng.uniform(-1, 1, 3))
            out.append((reward, info["risky_state"], info["hazard_penalty"]))
            if terminated or truncated:
                break
        return out

    a, b, c = episode(3), episode(3), episode(4)
    assert a == b
    assert any(risky for _, risky, _ in a)
    assert a != c


def _transitions(pitch_now, pitch_next):
    n = len(pitch_now)
    obs, nxt = np.zeros((n, 11)), np.zeros((n, 11))
    obs[:, 1], nxt[:, 1] = pitch_now, pitch_next
    return Transitions(obs, np.zeros((n, 3)), np.ones(n), nxt, np.zeros(n), source="toy")


def test_relabel_is_seeded_and_reads_the_next_observation():
    data = _transitions(np.zeros(5000), np.full(5000, 0.3))
    a, b = relabel(data, POSE, seed=7), relabel(data, POSE, seed=7)
    assert np.array_equal(a.transitions.rewards, b.transitions.rewards)
    assert not np.array_equal(a.transitions.rewards, relabel(data, POSE, seed=8).transitions.rewards)
    assert a.risky.all()
    assert a.penalised.mean() == pytest.approx(0.5, abs=0.03)
    assert np.array_equal(a.transitions.rewards, np.where(a.penalised, -49.0, 1.0).astype(np.float32))
    assert np.array_equal(a.transitions.terminals, data.terminals)  # no new terminals
    oraac = Hazard(kind="pose", probability=0.5, penalty=-50.0, low=-0.1, high=0.1, rule="oraac")
    assert not relabel(data, oraac, seed=7).risky.any()  # O-RAAC reads the current observation


def test_relabel_refuses_terminal_rows_paired_with_the_following_row():
    data = _transitions(np.zeros(10), np.full(10, 0.3))
    ends = (np.arange(10) == 4).astype(np.float32)
    paired = replace(data, terminals=ends, episode_ends=ends, terminal_next="following row")
    with pytest.raises(ValueError, match="next observations of its 1 terminal rows are the following rows"):
        relabel(paired, POSE, seed=0)


# paper-notes §4.1 (released environment/configs) and §2 (released configs/radac.yaml)
TASKS = {
    "halfcheetah-medium-expert": (dict(kind="velocity", obs_index=8, max_velocity=10.0, probability=0.05,
                                       penalty=-70.0),
                                  dict(critic_lr=5e-5, risk_weight=0.02, n_quantiles=32, critic_embedding_dim=128)),
    "halfcheetah-medium-replay": (dict(kind="velocity", obs_index=8, max_velocity=5.0, probability=0.05,
                                       penalty=-60.0),
                                  dict(critic_lr=5e-5, risk_weight=0.02)),
    "hopper-medium-expert": (dict(kind="pose", obs_index=1, low=-0.17, high=0.04, probability=0.1, penalty=-50.0,
                                  termination_factor=100.0), dict(risk_warmup_iterations=300000)),
    "hopper-medium-replay": (dict(kind="pose", obs_index=1, low=-0.1, high=0.1, probability=0.1, penalty=-50.0,
                                  termination_factor=2.0),
                             dict(target_clip=[-150.0, 150.0], bc_weight=1.5, risk_warmup_iterations=300000)),
    "walker2d-medium-expert": (dict(kind="pose", obs_index=1, low=-0.5, high=0.5, probability=0.1, penalty=-30.0,
                                    termination_factor=2.0), dict(bc_weight=1.5, risk_warmup_iterations=300000)),
    "walker2d-medium-replay": (dict(kind="pose", obs_index=1, low=-0.5, high=0.5, probability=0.1, penalty=-30.0,
                                    termination_factor=2.0),
                               dict(critic_lr=5e-6, risk_weight=0.02, max_grad_norm=3.0, n_quantiles=8,
                                    critic_embedding_dim=32)),
}


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_configs_hold_the_papers_parameters(repo_root, task):
    with open(os.path.join(repo_root, "conf", f"{task}.yaml")) as handle:
        config = yaml.safe_load(handle)
    hazard, model = TASKS[task]
    assert config["data"]["init_args"]["hazard"] == hazard
    Hazard(**config["data"]["init_args"]["hazard"])  # valid
    env, dataset = task.split("-", 1)
    assert config["data"]["init_args"]["env"] == env and config["data"]["init_args"]["dataset"] == dataset
    for key, value in model.items():
        assert config["model"]["init_args"][key] == value, key
    assert os.path.realpath(os.path.join(repo_root, "conf", "hopper.yaml")).endswith("hopper-medium-expert.yaml")


def test_bad_hazards_are_refused():
    with pytest.raises(ValueError, match="probability"):
        Hazard(kind="pose", probability=1.5, penalty=-1.0, low=-0.1, high=0.1)
    with pytest.raises(ValueError, match="low < high"):
        Hazard(kind="pose", probability=0.1, penalty=-1.0, low=0.1, high=-0.1)
    with pytest.raises(ValueError, match="max_velocity"):
        Hazard(kind="velocity", probability=0.1, penalty=-1.0)
