from __future__ import annotations

import pytest
import torch

from ramac.objectives.td import mse_td_loss, normalized_q_loss, td_target


def test_td_target_against_a_loop():
    g = torch.Generator().manual_seed(0)
    rewards, next_q = torch.randn(5, generator=g), torch.randn(2, 5, generator=g)
    terminals = torch.tensor([0.0, 1.0, 0.0, 0.0, 1.0])
    for aggregate, agg in (("min", min), ("mean", lambda a, b: (a + b) / 2)):
        got = td_target(rewards, terminals, next_q, 0.9, aggregate)
        for b in range(5):
            want = rewards[b] + 0.9 * (1 - terminals[b]) * agg(next_q[0, b], next_q[1, b])
            assert got[b].item() == pytest.approx(want.item(), abs=1e-6)
    with pytest.raises(ValueError, match="aggregate"):
        td_target(rewards, terminals, next_q, 0.9, "max")
    with pytest.raises(ValueError, match="next_q"):
        td_target(rewards, terminals, next_q.T, 0.9)


def test_mse_td_loss_per_member_and_without_gradient_into_the_target():
    q = torch.tensor([[1.0, 2.0], [0.0, 4.0]], requires_grad=True)
    target = torch.tensor([0.0, 1.0], requires_grad=True)
    loss = mse_td_loss(q, target)
    assert loss.tolist() == [pytest.approx((1 + 1) / 2), pytest.approx((0 + 9) / 2)]
    loss.sum().backward()
    assert target.grad is None and torch.allclose(q.grad, torch.tensor([[1.0, 1.0], [0.0, 3.0]]))


def test_normalized_q_loss_scale_is_detached():
    """Diffusion-QL: −mean Q₁ / stopgrad(mean |Q₂|): no gradient reaches Q₂ through the scale."""
    q1 = torch.tensor([1.0, 3.0], requires_grad=True)
    q2 = torch.tensor([-2.0, 2.0], requires_grad=True)
    loss = normalized_q_loss(q1, q2)
    assert loss.item() == pytest.approx(-2.0 / 2.0)
    loss.backward()
    assert q2.grad is None and torch.allclose(q1.grad, torch.full((2,), -0.25))
