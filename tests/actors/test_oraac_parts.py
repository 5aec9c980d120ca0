"""O-RAAC's imitation prior (conditional VAE) and its bounded perturbation actor."""

from __future__ import annotations

import pytest
import torch

from ramac.actors.perturbation import PerturbationActor
from ramac.actors.vae import ConditionalVAE


def test_vae_loss_is_the_negative_elbo_of_the_reference():
    torch.manual_seed(0)
    vae = ConditionalVAE(3, 2, max_action=2.0, hidden_dim=16)
    obs, actions = torch.randn(8, 3), torch.rand(8, 2) * 2 - 1
    loss = vae.bc_loss(obs, actions, torch.Generator().manual_seed(4))
    # the reference, written out: encoder heads, reparameterised latent, tanh decoder, MSE + ½ KL (means)
    h = vae.encoder(torch.cat((obs, actions), -1))
    mean, log_std = h[:, :4], h[:, 4:].clamp(-4, 15)
    z = mean + log_std.exp() * torch.randn(8, 4, generator=torch.Generator().manual_seed(4))
    recon = 2.0 * torch.tanh(vae.decoder(torch.cat((obs, z), -1)))
    kl = -0.5 * (1 + torch.log(log_std.exp() ** 2) - mean**2 - log_std.exp() ** 2).mean()
    assert loss.item() == pytest.approx(((recon - actions) ** 2).mean().item() + 0.5 * kl.item(), rel=1e-5)


def test_vae_prior_latents_are_clipped_and_zero_is_the_evaluation_anchor():
    torch.manual_seed(0)
    vae = ConditionalVAE(3, 2, hidden_dim=16)
    obs = torch.randn(5, 3)
    big = torch.full((5, 4), 3.0)
    assert torch.equal(vae.actions_from_noise(obs, big), vae.decode(obs, torch.full((5, 4), 0.5)))
    assert torch.equal(vae.actions_from_noise(obs, torch.zeros(5, 4)), vae.decode(obs, torch.zeros(5, 4)))
    with pytest.raises(ValueError, match="noise"):
        vae.actions_from_noise(obs, torch.zeros(5, 2))


@pytest.mark.parametrize("scale", [0.0, 0.05, 0.25])
def test_perturbation_stays_inside_its_bound_and_the_box(scale):
    torch.manual_seed(0)
    actor = PerturbationActor(3, 2, max_action=2.0, perturbation_scale=scale, hidden_dims=(16, 16))
    with torch.no_grad():
        actor.net[-1].weight.mul_(100.0)  # saturate tanh: the bound must still hold
    obs, anchors = torch.randn(64, 3), (torch.rand(64, 2) * 2 - 1) * 2.0
    actions = actor(obs, anchors)
    assert (actions - anchors).abs().max() <= scale * 2.0 + 1e-6
    assert actions.abs().max() <= 2.0
    if scale > 0:
        assert (actions - anchors).abs().max() > 0.9 * scale * 2.0 * 0.5  # the bound is reachable, not zero


def test_perturbation_gradient_reaches_the_actor_not_the_anchor_source():
    torch.manual_seed(0)
    vae = ConditionalVAE(3, 2, hidden_dim=16)
    actor = PerturbationActor(3, 2, hidden_dims=(16, 16))
    obs = torch.randn(8, 3)
    with torch.no_grad():  # O-RAAC: the anchor is decoded without gradient
        anchors = vae.sample(obs, torch.Generator().manual_seed(0))
    actor(obs, anchors).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())
    assert all(p.grad is None for p in vae.parameters())
