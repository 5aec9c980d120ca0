from __future__ import annotations

import math

import pytest
import torch

from ramac.objectives.conservative import conservative_penalty


def test_conservative_penalty_against_a_loop():
    g = torch.Generator().manual_seed(0)
    e, b, p, a = 2, 3, 4, 2
    q_data = torch.randn(e, b, generator=g)
    q_random, q_policy, q_next = (torch.randn(e, b, p, generator=g) for _ in range(3))
    log_policy, log_next = torch.randn(b, p, generator=g), torch.randn(b, p, generator=g)
    for temperature, max_action in ((1.0, 1.0), (0.5, 2.0)):
        got = conservative_penalty(q_data, q_random, q_policy, log_policy, q_next, log_next, a, max_action,
                                   temperature)
        for m in range(e):
            total = 0.0
            for i in range(b):
                terms = [float(q_random[m, i, j]) + a * math.log(2 * max_action) for j in range(p)]
                terms += [float(q_policy[m, i, j] - log_policy[i, j]) for j in range(p)]
                terms += [float(q_next[m, i, j] - log_next[i, j]) for j in range(p)]
                total += temperature * math.log(sum(math.exp(t / temperature) for t in terms)) - float(q_data[m, i])
            assert got[m].item() == pytest.approx(total / b, rel=1e-5)


def test_conservative_penalty_gradients_and_shapes():
    q_data = torch.zeros(2, 3, requires_grad=True)
    q = torch.zeros(2, 3, 4, requires_grad=True)
    log_prob = torch.zeros(3, 4, requires_grad=True)
    conservative_penalty(q_data, q, q, log_prob, q, log_prob, 2).sum().backward()
    assert torch.allclose(q_data.grad, torch.full((2, 3), -1 / 3))  # the data term pushes Q(s, a) up
    assert log_prob.grad is None  # importance weights are constants
    with pytest.raises(ValueError, match="q_random"):
        conservative_penalty(q_data, q[:, :2], q, log_prob, q, log_prob, 2)
