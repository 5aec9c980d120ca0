"""Stochastic-D4RL hazards: wrapper semantics and seeding, relabelling, the v5 observation indices."""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest

from ramac.data.hazards import relabel
from ramac.data.transitions import Transitions
from ramac.envs.hazards import Hazard, HazardWrapper

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


def test_bad_hazards_are_refused():
    with pytest.raises(ValueError, match="probability"):
        Hazard(kind="pose", probability=1.5, penalty=-1.0, low=-0.1, high=0.1)
    with pytest.raises(ValueError, match="low < high"):
        Hazard(kind="pose", probability=0.1, penalty=-1.0, low=0.1, high=-0.1)
    with pytest.raises(ValueError, match="max_velocity"):
        Hazard(kind="velocity", probability=0.1, penalty=-1.0)


@pytest.mark.parametrize(("env_id", "pitch_joint"), [("Hopper-v5", "rooty"), ("Walker2d-v5", "rooty")])
def test_obs_1_is_the_torso_pitch_on_the_v5_envs(env_id, pitch_joint):
    env = gym.make(env_id)
    sim = env.unwrapped
    sim.reset(seed=0)
    joint = sim.model.joint(pitch_joint)
    assert int(joint.qposadr[0]) == 2  # qpos = (rootx, rootz, rooty, ...); obs = qpos[1:] then qvel
    qpos, qvel = sim.init_qpos.copy(), sim.init_qvel.copy()
    qpos[2] = 0.321
    sim.set_state(qpos, qvel)
    assert sim._get_obs()[1] == pytest.approx(0.321)
    env.close()


def test_obs_8_is_the_forward_velocity_on_halfcheetah_v5():
    env = gym.make("HalfCheetah-v5")
    env.reset(seed=0)
    sim = env.unwrapped
    assert int(sim.model.joint("rootx").dofadr[0]) == 0  # qvel[0] is the root's forward (x) velocity
    qvel = sim.init_qvel.copy()
    qvel[0] = 7.5
    sim.set_state(sim.init_qpos.copy(), qvel)
    assert sim._get_obs()[8] == pytest.approx(7.5)  # obs = qpos[1:] (8 entries), then qvel
    x_before = sim.data.qpos[0]
    _, _, _, _, info = env.step(np.zeros(6))
    assert info["x_velocity"] > 0 and sim.data.qpos[0] > x_before  # positive obs[8]: moving forward
    env.close()


ENERGY = Hazard(kind="energy", probability=1.0, penalty=-20.0, energy_quantile=0.9)


def test_the_energy_hazard_is_decided_on_the_action_against_a_dataset_quantile():
    actions = np.random.default_rng(0).uniform(-1, 1, size=(1000, 3))
    energies = (actions**2).sum(-1)
    resolved = ENERGY.with_energy_threshold(actions)
    assert resolved.max_energy == pytest.approx(np.quantile(energies, 0.9))
    risky = resolved.is_risky_step(np.zeros((1000, 11)), actions)
    assert risky.mean() == pytest.approx(0.1, abs=0.002) and np.array_equal(risky, energies > resolved.max_energy)
    assert POSE.with_energy_threshold(actions) is POSE
    with pytest.raises(ValueError, match="threshold is not set yet"):
        ENERGY.is_risky_step(np.zeros((1, 11)), actions[:1])
    with pytest.raises(ValueError, match="decided on the action"):
        ENERGY.is_risky(np.zeros((1, 11)))


def test_the_wrapper_charges_an_energetic_action_and_spares_a_gentle_one():
    hazard = Hazard(kind="energy", probability=1.0, penalty=-20.0, max_energy=0.5)
    plain, wrapped = gym.make("Hopper-v5"), HazardWrapper(gym.make("Hopper-v5"), hazard)
    plain.reset(seed=3)
    wrapped.reset(seed=3)
    for action in (np.array([0.1, 0.1, 0.1]), np.array([0.9, -0.9, 0.0])):  # energies 0.03 and 1.62
        _, reward, _, _, _ = plain.step(action)
        _, charged, _, _, info = wrapped.step(action)
        risky = float((action**2).sum()) > 0.5
        assert info["risky_state"] == risky and info["hazard_penalty"] == risky
        assert charged == pytest.approx(reward + (-20.0 if risky else 0.0))


@pytest.mark.parametrize(("fields", "message"), [
    (dict(), "needs energy_quantile"),
    (dict(energy_quantile=1.0), r"energy_quantile must be in \(0, 1\)"),
    (dict(max_energy=-1.0), "max_energy must be > 0"),
    (dict(energy_quantile=0.9, low=-0.1), r"\['low'\] do not apply to the energy hazard"),
])
def test_energy_hazard_options_are_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        Hazard(kind="energy", probability=0.1, penalty=-1.0, **fields)
    with pytest.raises(ValueError, match=r"\['max_velocity'\] do not apply to the pose hazard"):
        Hazard(kind="pose", probability=0.1, penalty=-1.0, low=-0.1, high=0.1, max_velocity=3.0)
