from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.tiny import TinyData

from ramac.data.statistics import episode_sums
from ramac.data.transitions import Transitions, TransitionSampler


def _arrays(n=10, o=3, a=2):
    rng = np.random.default_rng(0)
    return dict(observations=rng.normal(size=(n, o)), actions=rng.normal(size=(n, a)), rewards=rng.normal(size=n),
                next_observations=rng.normal(size=(n, o)), terminals=np.zeros(n))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("rewards", np.zeros((10, 1)), "'rewards' must have shape"),
    ("actions", np.zeros((9, 2)), "'actions' must have shape"),
    ("next_observations", np.zeros((10, 4)), "differs from 'observations'"),
    ("observations", np.full((10, 3), np.nan), "'observations' contains NaN or inf"),
    ("rewards", np.array([0.0] * 9 + [np.inf]), "row 9"),
    ("terminals", np.full(10, 0.5), "0/1"),
    ("actions", np.array([["a", "b"]] * 10), "numeric"),
])
def test_transitions_reject_bad_arrays_naming_the_key(key, value, message):
    arrays = _arrays()
    arrays[key] = value
    with pytest.raises(ValueError, match=message) as err:
        Transitions(**arrays, source="file.hdf5")
    assert "file.hdf5" in str(err.value)


def test_empty_dataset_is_refused():
    arrays = {k: v[:0] for k, v in _arrays().items()}
    with pytest.raises(ValueError, match="empty"):
        Transitions(**arrays, source="empty.hdf5")


def test_sampler_returns_rows_of_the_table():
    data = Transitions(**_arrays(n=50))
    sampler = TransitionSampler(data, batch_size=8, device="cpu")
    batch = sampler.sample(torch.Generator().manual_seed(0))
    assert batch.observations.shape == (8, 3) and batch.rewards.shape == (8,) and batch.terminals.shape == (8,)
    for row in range(8):
        match = np.flatnonzero(np.all(np.isclose(data.observations, batch.observations[row].numpy()), axis=1))
        assert len(match) == 1
        i = match[0]
        assert np.allclose(batch.actions[row].numpy(), data.actions[i])
        assert np.isclose(batch.rewards[row].item(), data.rewards[i])
        assert np.allclose(batch.next_observations[row].numpy(), data.next_observations[i])
    again = sampler.sample(torch.Generator().manual_seed(0))
    assert torch.equal(batch.actions, again.actions)


def test_batch_size_must_split_over_processes():
    with pytest.raises(ValueError, match="divisible"):
        TinyData(batch_size=15).make_sampler(torch.device("cpu"), world_size=2)


def test_returns_to_go_restart_at_each_episode_end():
    # two episodes: rewards 1, 2, 3 (ends by a time limit) and 10, -4 (terminates)
    rewards = np.array([1.0, 2.0, 3.0, 10.0, -4.0], dtype=np.float32)
    ends = np.array([0, 0, 1, 0, 1], dtype=np.float32)
    terminals = np.array([0, 0, 0, 0, 1], dtype=np.float32)
    table = Transitions(np.zeros((5, 2)), np.zeros((5, 1)), rewards, np.zeros((5, 2)), terminals, episode_ends=ends)
    g = 0.5
    assert table.returns_to_go(g) == pytest.approx([1 + g * 2 + g * g * 3, 2 + g * 3, 3, 10 + g * -4, -4])
    # without episode_ends the terminals end the episodes: one long first episode
    plain = Transitions(np.zeros((5, 2)), np.zeros((5, 1)), rewards, np.zeros((5, 2)), terminals)
    assert plain.returns_to_go(1.0)[0] == pytest.approx(12.0)


def test_reward_scale_multiplies_the_training_rewards_and_names_itself():
    from ramac.data.bandit import BanditDataModule

    plain, scaled = BanditDataModule(dataset_size=500), BanditDataModule(dataset_size=500, reward_scale=10.0)
    assert np.array_equal(scaled.transitions.rewards, plain.transitions.rewards * np.float32(10.0))
    assert np.array_equal(scaled.transitions.observations, plain.transitions.observations)
    assert scaled.description["reward_scale"] == 10.0 and plain.description["reward_scale"] == 1.0
    assert scaled.description["sha256"] != plain.description["sha256"]  # other data: a report keeps them apart
    assert "rewards × 10" in scaled.transitions.source
    with pytest.raises(ValueError, match=r"data\.reward_scale must be > 0"):
        BanditDataModule(reward_scale=0.0)


def test_episode_sums_add_each_complete_episode_and_leave_the_trailing_rows_out():
    values = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 5.0, 7.0])
    ends = np.array([False, False, True, False, True, False, False])  # episodes 0-2 and 3-4; rows 5-6 unfinished
    np.testing.assert_array_equal(episode_sums(values, ends), [6.0, 30.0])
    assert episode_sums(values, np.zeros(7, dtype=bool)).size == 0
