"""The online phase's data: the offline fraction's schedule, the buffer's contents and the mixed batch's composition,
against their definitions (``ramac.data.online``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ramac.data.online import MixedSampler, OnlineBuffer, offline_fraction_at, offline_rows
from ramac.data.transitions import Transitions, TransitionSampler


def offline_table(rows: int = 50, obs_dim: int = 3, action_dim: int = 2) -> Transitions:
    index = np.arange(rows, dtype=np.float32)
    return Transitions(np.tile(index[:, None], (1, obs_dim)), np.tile(index[:, None], (1, action_dim)), index,
                       np.tile(index[:, None] + 0.5, (1, obs_dim)), np.zeros(rows, dtype=np.float32))


def online_rows(buffer: OnlineBuffer, first: int, n: int) -> None:
    values = -1.0 - torch.arange(first, first + n, dtype=torch.float32)  # negative: never an offline row
    buffer.append(values[:, None].repeat(1, buffer.obs_dim), values[:, None].repeat(1, buffer.action_dim), values,
                  values[:, None].repeat(1, buffer.obs_dim) - 0.5, torch.ones(n))


def test_offline_fraction_fixed_and_annealed_to_zero():
    assert offline_fraction_at(10_000, 0.5, 0) == 0.5
    assert [offline_fraction_at(step, 0.5, 100) for step in (0, 25, 50, 100, 150)] == [0.5, 0.375, 0.25, 0.0, 0.0]


def test_offline_rows_round_the_share_and_take_everything_offline_before_the_first_transition():
    assert offline_rows(256, 0.5, online_size=10) == 128
    assert offline_rows(10, 0.25, online_size=1) == 2  # round(2.5) = 2: half to even
    assert offline_rows(10, 0.35, online_size=1) == 4
    assert offline_rows(256, 0.0, online_size=5) == 0
    assert offline_rows(256, 0.0, online_size=0) == 256


def test_buffer_holds_what_was_appended_in_order_and_overwrites_the_oldest():
    buffer = OnlineBuffer(3, 2, capacity=5, device="cpu")
    online_rows(buffer, 0, 3)
    assert buffer.size == 3 and buffer.position == 3
    assert buffer.rows[:3, 0].tolist() == [-1.0, -2.0, -3.0]
    assert buffer.rows[1].tolist() == [-2.0] * 3 + [-2.0] * 2 + [-2.0] + [-2.5] * 3 + [1.0]  # s, a, r, s', terminal
    online_rows(buffer, 3, 4)  # rows 3..6: 5 and 6 overwrite 0 and 1
    assert buffer.size == 5 and buffer.position == 2
    assert buffer.rows[:, 0].tolist() == [-6.0, -7.0, -3.0, -4.0, -5.0]
    restored = OnlineBuffer(3, 2, capacity=5, device="cpu")
    restored.load_state_dict(buffer.state_dict())
    assert torch.equal(restored.rows, buffer.rows) and (restored.size, restored.position) == (5, 2)
    with pytest.raises(ValueError, match=r"'rewards' must have shape \[2\], got \[3\]"):
        buffer.append(torch.zeros(2, 3), torch.zeros(2, 2), torch.zeros(3), torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="holds 5 rows, the run is configured for 6"):
        OnlineBuffer(3, 2, capacity=6, device="cpu").load_state_dict(buffer.state_dict())


@pytest.mark.parametrize("fraction", [0.5, 0.25, 0.0, 1.0])
def test_a_mixed_batch_is_round_f_b_offline_rows_then_online_rows_drawn_from_the_generator(fraction):
    table = offline_table()
    buffer = OnlineBuffer(3, 2, capacity=100, device="cpu")
    online_rows(buffer, 0, 7)
    sampler = MixedSampler(TransitionSampler(table, 16, "cpu"), buffer, fraction)
    batch = sampler.sample(torch.Generator().manual_seed(3))
    n_offline = round(fraction * 16)
    assert batch.observations.shape == (16, 3)
    assert bool((batch.rewards[:n_offline] >= 0).all()) and bool((batch.rewards[n_offline:] < 0).all())
    # the same generator gives the offline indices first, then the online ones
    generator = torch.Generator().manual_seed(3)
    offline_index = torch.randint(0, 50, (n_offline,), generator=generator)
    online_index = torch.randint(0, 7, (16 - n_offline,), generator=generator) if n_offline < 16 else torch.zeros(0)
    expected = torch.cat([offline_index.float(), -1.0 - online_index.float()])
    assert torch.equal(batch.rewards, expected)
    assert torch.equal(batch.next_observations[:, 0], expected + torch.where(expected >= 0, 0.5, -0.5))


def test_an_empty_buffer_gives_an_offline_batch_and_dimensions_are_checked():
    table = offline_table()
    sampler = MixedSampler(TransitionSampler(table, 8, "cpu"), OnlineBuffer(3, 2, 10, "cpu"), 0.0)
    assert bool((sampler.sample(torch.Generator().manual_seed(0)).rewards >= 0).all())
    with pytest.raises(ValueError, match="online buffer dimensions"):
        MixedSampler(TransitionSampler(table, 8, "cpu"), OnlineBuffer(4, 2, 10, "cpu"))
