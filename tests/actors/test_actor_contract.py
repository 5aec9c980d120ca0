"""What every actor must do (the protocol of ramac.actors.base), checked for each entry of ``ACTORS``."""

from __future__ import annotations

import pytest
import torch

from ramac.actors.base import Actor, LogProbActor
from ramac.actors.diffusion import DiffusionActor
from ramac.actors.flow import FlowActor, OneStepActor
from ramac.actors.tanh_gaussian import TanhGaussianActor
from ramac.actors.vae import ConditionalVAE

#: every actor joins the suite by one entry: a factory for obs 3, action 2, max_action 0.5
ACTORS = {
    "diffusion": lambda: DiffusionActor(3, 2, max_action=0.5, diffusion_steps=3, hidden_dim=16),
    "flow": lambda: FlowActor(3, 2, max_action=0.5, flow_steps=3, hidden_dim=16, hidden_layers=2),
    "tanh_gaussian": lambda: TanhGaussianActor(3, 2, max_action=0.5, hidden_dim=16),
    "vae": lambda: ConditionalVAE(3, 2, max_action=0.5, hidden_dim=16),
}
#: noise-conditioned policies without a likelihood (no bc_loss): they join the sampling checks only
SAMPLERS = {**ACTORS, "one_step": lambda: OneStepActor(3, 2, max_action=0.5, hidden_dim=16, hidden_layers=2)}
NAMES = sorted(ACTORS)
#: parameters a sample does not pass through (the VAE's encoder serves only its ELBO)
NOT_IN_SAMPLING = {"vae": ("encoder.",)}


def make(name):
    torch.manual_seed(0)
    return SAMPLERS[name]()


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sample_shape_and_box(name):
    actor = make(name)
    assert isinstance(actor, Actor) == (name in ACTORS)
    actions = actor.sample(torch.randn(64, 3), torch.Generator().manual_seed(1))
    assert actions.shape == (64, 2) and actions.abs().max() <= 0.5
    assert actions.std(0).min() > 0  # a distribution, not a constant


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_actions_from_noise_is_deterministic_and_is_what_sample_does(name):
    actor = make(name)
    obs = torch.randn(5, 3)
    noise = actor.sample_noise(5, torch.Generator().manual_seed(2), obs.device)
    first = actor.actions_from_noise(obs, noise)
    assert torch.equal(first, actor.actions_from_noise(obs, noise.clone()))
    assert torch.equal(first, actor.sample(obs, torch.Generator().manual_seed(2)))
    assert not torch.equal(first, actor.actions_from_noise(obs, noise + 0.1))


@pytest.mark.parametrize("name", NAMES)
def test_bc_loss_is_a_finite_scalar_and_one_step_moves_every_parameter(name):
    """d3rlpy's check_parameter_updates: a gradient step on the BC loss changes every parameter."""
    actor = make(name)
    obs, actions = torch.randn(32, 3), torch.rand(32, 2) - 0.5
    loss = actor.bc_loss(obs, actions * 0.9, torch.Generator().manual_seed(3))
    assert loss.shape == () and torch.isfinite(loss)
    before = {n: p.detach().clone() for n, p in actor.named_parameters()}
    loss.backward()
    torch.optim.SGD(actor.parameters(), lr=1e-2).step()
    assert [n for n, p in actor.named_parameters() if torch.equal(p, before[n])] == []


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_sample_is_reparameterised(name):
    actor = make(name)
    actor.sample(torch.randn(16, 3), torch.Generator().manual_seed(4)).sum().backward()
    unused = NOT_IN_SAMPLING.get(name, ())
    assert [n for n, p in actor.named_parameters()
            if not n.startswith(unused) and (p.grad is None or not p.grad.abs().sum() > 0)] == []


@pytest.mark.parametrize("name", [n for n in NAMES if isinstance(make(n), LogProbActor)])
def test_log_prob_of_the_sample_matches_log_prob_of_its_actions(name):
    actor = make(name)
    obs = torch.randn(8, 3)
    actions, log_prob = actor.sample_with_log_prob(obs, torch.Generator().manual_seed(5))
    assert log_prob.shape == (8,)
    assert torch.allclose(log_prob, actor.log_prob(obs, actions), atol=2e-3)
