"""The CPU-independent arithmetic of zoo generation 2 (ramac.zoo.exact): accuracy against NumPy, and exactness
of the MLP (the same bits in any summation order)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ramac.zoo import exact
from ramac.zoo.policy import ZooPolicy

ULP = np.finfo(np.float64).eps


def test_transcendentals_agree_with_numpy_to_a_few_ulp():
    rng = np.random.default_rng(0)
    x = rng.uniform(-60.0, 8.0, 100_000)
    assert np.max(np.abs(exact.exp(x) / np.exp(x) - 1.0)) < 3 * ULP
    y = rng.uniform(-1.1, 1.1, 100_000)
    assert np.max(np.abs(exact.expm1(y) / np.expm1(y) - 1.0)) < 4 * ULP
    s = np.concatenate([rng.random(50_000), 10.0 ** rng.uniform(-300, 300, 50_000)])
    assert np.max(np.abs(exact.log(s) - np.log(s)) / np.maximum(np.abs(np.log(s)), 1e-300)) < 4 * ULP
    near_one = 1.0 + rng.uniform(-1e-3, 1e-3, 1000)
    assert np.max(np.abs(exact.log(near_one) - np.log(near_one))) < 1e-18  # no cancellation at 1
    t = np.concatenate([rng.uniform(-25.0, 25.0, 100_000), rng.uniform(-1e-6, 1e-6, 1000)])
    assert np.max(np.abs(exact.tanh(t) - np.tanh(t)) / np.abs(np.tanh(t))) < 4 * ULP
    assert exact.tanh(np.array([30.0, -30.0])).tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match="must be positive"):
        exact.log(np.array([0.0]))
    with pytest.raises(ValueError, match="<= 700"):
        exact.exp(np.array([800.0]))


def test_polar_normals_are_standard_normal_and_a_function_of_the_stream():
    z = exact.standard_normal(np.random.default_rng(3), 400_000)
    assert abs(z.mean()) < 5e-3 and abs(z.std() - 1.0) < 5e-3
    assert abs(np.mean(np.abs(z) > 1.959964) - 0.05) < 2e-3  # two-sided 5 % tail
    again = exact.standard_normal(np.random.default_rng(3), 400_000)
    assert np.array_equal(z, again) and z.shape == (400_000,)


def test_mlp_is_exact_so_summation_order_does_not_matter():
    torch.manual_seed(0)
    layers = [(torch.randn(11, 64) * 0.5, torch.randn(64) * 0.1), (torch.randn(64, 6) * 0.5, torch.randn(6) * 0.1)]
    mlp = exact.ExactMLP(layers)
    obs = np.random.default_rng(0).normal(0.0, 3.0, (256, 11))
    out = mlp(obs)
    # the same products summed in reverse order and one at a time, in float64, give the same bits
    h = np.round(np.clip(obs, -exact.INPUT_BOUND, exact.INPUT_BOUND) / exact.INPUT_STEP) * exact.INPUT_STEP
    for index, (w, b) in enumerate(mlp.layers):
        w_, b_ = w.numpy(), b.numpy()
        total = np.tile(b_, (h.shape[0], 1))
        for j in reversed(range(w_.shape[0])):
            total = total + h[:, j:j + 1] * w_[j]
        h = total if index == len(mlp.layers) - 1 else \
            np.round(np.minimum(np.maximum(total, 0.0), exact.INPUT_BOUND) / exact.INPUT_STEP) * exact.INPUT_STEP
    assert np.array_equal(out, h)
    # and it stays close to the float32 network it rounds
    reference = torch.relu(torch.from_numpy(obs).float() @ layers[0][0] + layers[0][1]) @ layers[1][0] + layers[1][1]
    assert np.max(np.abs(out - reference.double().numpy())) < 5e-3


def test_mlp_refuses_weights_whose_sums_would_round():
    with pytest.raises(ValueError, match="stop being exact"):
        exact.ExactMLP([(torch.full((256, 4), 40.0), torch.zeros(4))])


def test_generation_two_policy_is_close_to_generation_one():
    torch.manual_seed(1)
    state = {f"net.{i}.weight": torch.randn(o, n) / n ** 0.5 for i, (n, o) in zip((0, 2, 4), ((11, 32), (32, 32),
                                                                                             (32, 6)), strict=True)}
    state.update({f"net.{i}.bias": torch.zeros(o) for i, o in zip((0, 2, 4), (32, 32, 6), strict=True)})
    obs = np.random.default_rng(2).normal(size=(64, 11))
    one, two = ZooPolicy(state, 1.0, generation=1), ZooPolicy(state, 1.0, generation=2)
    assert np.max(np.abs(one(obs) - two(obs))) < 2e-3  # mean actions: rounding to the 2^-12 / 2^-16 grids
    sampled = two(obs, np.random.default_rng(0))
    assert np.all(np.abs(sampled) <= 1.0) and not np.array_equal(sampled, two(obs))
    with pytest.raises(ValueError, match="zoo generation"):
        ZooPolicy(state, 1.0, generation=3)
