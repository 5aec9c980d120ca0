from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ramac.critics.iqn import TwinIQNCritic


def tiled_reference(critic: TwinIQNCritic, member: int, obs, actions, taus):
    """The released layout: tile state, action and tau to B·N rows and run each layer on all rows."""
    n, b = taus.shape[0], obs.shape[0]
    s = obs.repeat(1, n).view(-1, obs.shape[1])
    a = actions.repeat(1, n).view(-1, actions.shape[1])
    t = taus.repeat(b, 1).view(n * b, 1)

    def lin(x, name):
        return x @ getattr(critic, f"{name}_weight")[member] + getattr(critic, f"{name}_bias")[member]

    h = F.relu(lin(torch.cat((F.relu(lin(s, "state")), F.relu(lin(a, "action"))), -1), "fuse"))
    cos = torch.cos(math.pi * torch.arange(critic.tau_weight.shape[1]) * t)
    h = F.relu(lin(h * F.relu(lin(cos, "tau")), "hidden"))
    return (h @ critic.head_weight[member] + critic.head_bias[member]).view(b, n)


def test_broadcast_critic_equals_the_tiled_released_layout():
    torch.manual_seed(0)
    critic = TwinIQNCritic(obs_dim=5, action_dim=3, cosine_features=8, embedding_dim=16, hidden_dim=32)
    with torch.no_grad():
        critic.head_weight.normal_()  # make the output sensitive to every layer
    obs, actions, taus = torch.randn(4, 5), torch.rand(4, 3), torch.rand(8)
    z = critic(obs, actions, taus)
    assert z.shape == (2, 4, 8)
    for member in range(2):
        assert torch.allclose(z[member], tiled_reference(critic, member, obs, actions, taus), atol=1e-5)
    per_sample = critic(obs, actions, taus.expand(4, 8))
    assert torch.allclose(per_sample, z, atol=1e-6)


def test_critic_init_follows_the_released_code():
    critic = TwinIQNCritic(obs_dim=11, action_dim=3, cosine_features=16, embedding_dim=64, hidden_dim=256)
    assert critic.head_weight.abs().max() <= 3e-4 and torch.all(critic.head_bias == 0)
    assert critic.state_weight.std().item() == pytest.approx(0.1, rel=0.05)


def test_detached_critic_passes_gradient_to_actions_only():
    torch.manual_seed(0)
    critic = TwinIQNCritic(obs_dim=3, action_dim=2, cosine_features=4, embedding_dim=8, hidden_dim=16)
    actions = torch.rand(5, 2, requires_grad=True)
    critic(torch.randn(5, 3), actions, torch.rand(4), detach_params=True).sum().backward()
    assert actions.grad is not None and actions.grad.abs().sum() > 0
    assert all(p.grad is None for p in critic.parameters())


def test_critic_rejects_bad_shapes():
    critic = TwinIQNCritic(obs_dim=3, action_dim=2, cosine_features=4)
    with pytest.raises(ValueError, match="obs must be"):
        critic(torch.zeros(5, 4), torch.zeros(5, 2), torch.rand(4))
    with pytest.raises(ValueError, match="actions must be"):
        critic(torch.zeros(5, 3), torch.zeros(4, 2), torch.rand(4))
    with pytest.raises(ValueError, match="taus must be"):
        critic(torch.zeros(5, 3), torch.zeros(5, 2), torch.rand(3, 4))
