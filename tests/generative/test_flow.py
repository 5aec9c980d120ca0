from __future__ import annotations

import pytest
import torch

from ramac.generative.flow import euler_sample, flow_matching_loss


def exact_field(target):
    """The velocity of the linear path towards the point ``target``: ``(x_1 − x) / (1 − t)``."""
    return lambda obs, x, t: (target - x) / (1.0 - t)


@pytest.mark.parametrize("steps", [1, 3, 10])
def test_euler_with_the_exact_field_reaches_the_target(steps):
    target = torch.tensor([[0.3, -0.7]]).expand(5, 2)
    noise = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    out = euler_sample(exact_field(target), torch.zeros(5, 1), noise, steps)
    assert torch.allclose(out, target, atol=1e-6)


def test_flow_matching_loss_is_zero_for_the_exact_field_and_matches_its_definition():
    g = torch.Generator().manual_seed(1)
    actions, noise = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    times = torch.rand(6, 1, generator=g)
    obs = torch.zeros(6, 1)
    # per-sample exact field: each row flows to its own action
    assert flow_matching_loss(exact_field(actions), obs, actions, noise, times).item() == pytest.approx(0.0, abs=1e-10)
    field = torch.nn.Linear(4, 2)
    loss = flow_matching_loss(lambda s, x, t: field(torch.cat((s, x, t), -1)), obs, actions, noise, times)
    want = 0.0
    for b in range(6):
        x_t = (1 - times[b]) * noise[b] + times[b] * actions[b]
        v = field(torch.cat((obs[b], x_t, times[b])))
        want += sum(float(v[i] - (actions[b, i] - noise[b, i])) ** 2 for i in range(2))
    assert loss.item() == pytest.approx(want / 12, rel=1e-5)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="flow_steps"):
        euler_sample(exact_field(torch.zeros(2, 2)), torch.zeros(2, 1), torch.zeros(2, 2), 0)
    with pytest.raises(ValueError, match="times"):
        flow_matching_loss(exact_field(torch.zeros(2, 2)), torch.zeros(2, 1), torch.zeros(2, 2), torch.zeros(2, 2),
                           torch.zeros(2))
