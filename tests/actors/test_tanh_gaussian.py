from __future__ import annotations

import math

import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from ramac.actors.tanh_gaussian import TanhGaussianActor
from ramac.zoo.policy import ZooPolicy


def test_log_prob_equals_torch_distributions_reference():
    torch.manual_seed(0)
    actor = TanhGaussianActor(3, 2, max_action=1.0, hidden_dim=16).double()
    obs = torch.randn(7, 3, dtype=torch.float64)
    actions, log_prob = actor.sample_with_log_prob(obs, torch.Generator().manual_seed(1))
    mean, log_std = actor.net(obs).chunk(2, -1)
    reference = TransformedDistribution(Normal(mean, log_std.clamp(-20, 2).exp()), [TanhTransform()])
    assert torch.allclose(log_prob, reference.log_prob(actions).sum(-1), atol=1e-6)


def test_max_action_scales_the_sample_and_bc_loss_is_the_negative_log_likelihood():
    torch.manual_seed(0)
    actor = TanhGaussianActor(3, 2, max_action=2.0, hidden_dim=16)
    obs = torch.randn(5, 3)
    noise = actor.sample_noise(5, torch.Generator().manual_seed(2), obs.device)
    mean, log_std = actor.net(obs).chunk(2, -1)
    assert torch.allclose(actor.actions_from_noise(obs, noise), 2.0 * torch.tanh(mean + log_std.exp() * noise))
    actions = actor.sample(obs, torch.Generator().manual_seed(3))
    assert torch.allclose(actor.bc_loss(obs, actions), -actor.log_prob(obs, actions).mean())
    # the A log(max_action) constant is left out of log π (module docstring): densities of a/2 on [-1, 1]
    unit = TanhGaussianActor(3, 2, max_action=1.0, hidden_dim=16)
    unit.load_state_dict(actor.state_dict())
    assert torch.allclose(actor.log_prob(obs, actions), unit.log_prob(obs, actions / 2.0), atol=1e-5)
    assert math.isfinite(float(actor.bc_loss(obs, torch.full((5, 2), 2.0))))  # the box edge is clipped


def test_zoo_policy_files_run_the_same_actor():
    """Shipped zoo policies are this actor's state dict (keys net.0/2/4): same mean action in NumPy (generation
    1's float32 arithmetic), and within the rounding of generation 2's exact arithmetic (ramac.zoo.exact)."""
    torch.manual_seed(0)
    actor = TanhGaussianActor(11, 3, max_action=1.0, hidden_dim=32)
    obs = torch.randn(4, 11)
    assert set(actor.state_dict()) == {f"net.{i}.{k}" for i in (0, 2, 4) for k in ("weight", "bias")}
    for generation, tolerance in ((1, 1e-5), (2, 2e-3)):
        policy = ZooPolicy(actor.state_dict(), action_scale=1.0, generation=generation)
        actions = torch.from_numpy(policy(obs.numpy())).float()
        assert torch.allclose(actions, actor.mean_action(obs), atol=tolerance)
