from __future__ import annotations

import numpy as np
import pytest

from ramac.data.bandit import bandit_transitions
from ramac.envs.bandit import ELSEWHERE, RING, SAFE, RiskyBandit, RiskyBanditEnv


def test_dataset_is_seeded_and_mixes_both_modes():
    bandit = RiskyBandit()
    a, b = bandit_transitions(bandit, 4000, seed=3), bandit_transitions(bandit, 4000, seed=3)
    assert a.checksum() == b.checksum()
    assert a.checksum() != bandit_transitions(bandit, 4000, seed=4).checksum()
    regions = bandit.regions(a.observations.astype(np.float64), a.actions.astype(np.float64))
    assert np.mean(regions == SAFE) == pytest.approx(0.5, abs=0.03)
    assert np.mean(regions == RING) == pytest.approx(0.5, abs=0.03)
    assert np.all(a.terminals == 1.0) and len(a) == 4000


def test_reward_law_ring_has_higher_mean_and_worse_tail():
    bandit = RiskyBandit()
    rng = np.random.default_rng(0)
    n = 200_000
    ctx = np.zeros((n, 2))
    safe_r, safe_pen = bandit.rewards(ctx, np.zeros((n, 2)), rng)
    ring_r, ring_pen = bandit.rewards(ctx, np.tile([0.6, 0.0], (n, 1)), rng)
    far_r, _ = bandit.rewards(ctx, np.tile([0.95, 0.95], (n, 1)), rng)
    assert safe_r.mean() == pytest.approx(1.0, abs=0.01) and not safe_pen.any()
    assert ring_r.mean() == pytest.approx(0.85 * 4.0 - 0.15 * 10.0, abs=0.05)
    assert ring_pen.mean() == pytest.approx(0.15, abs=0.005)
    worst = np.sort(ring_r)[: n // 10]
    assert worst.mean() == pytest.approx(-10.0)
    assert np.sort(safe_r)[: n // 10].mean() > 0.7
    assert far_r.mean() == pytest.approx(0.0, abs=0.01)
    assert bandit.regions(ctx[:1], np.array([[0.95, 0.95]]))[0] == ELSEWHERE


def test_contextual_variant_moves_the_modes():
    bandit = RiskyBandit(contextual=True)
    rng = np.random.default_rng(1)
    ctx = bandit.sample_contexts(5000, rng)
    assert ctx.min() >= -1 and ctx.max() <= 1 and ctx.std() > 0.4
    actions = bandit.sample_behaviour(ctx, rng)
    assert bandit.safe_fraction(ctx, actions) == pytest.approx(0.5, abs=0.03)
    # the same actions judged in the zero context land elsewhere much more often
    assert RiskyBandit().safe_fraction(np.zeros_like(ctx), actions) < 0.45


def test_gymnasium_env_is_one_step_and_seeded():
    env = RiskyBanditEnv(RiskyBandit(contextual=True))
    obs_a, _ = env.reset(seed=5)
    rewards_a = [env.step(np.array([0.6, 0.0]))[1] for _ in range(50)]
    obs_b, _ = env.reset(seed=5)
    rewards_b = [env.step(np.array([0.6, 0.0]))[1] for _ in range(50)]
    assert np.array_equal(obs_a, obs_b) and rewards_a == rewards_b
    _, _, terminated, truncated, info = env.step(env.bandit.centres(obs_a[None])[0])
    assert terminated and not truncated and info["safe"] and not info["risky_state"]
