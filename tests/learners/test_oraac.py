"""ORAAC and its generative-prior variants: cadence, the VAE freeze rule, the prior's isolation, and (with
``RAMAC_ORAAC`` naming an O-RAAC checkout) networks and losses against O-RAAC's own code."""

from __future__ import annotations

import copy
import importlib.util
import os
import sys
import types
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from helpers.tiny import TinyData, quiet_trainer, tiny_oraac

from ramac.learners import oraac as oraac_module
from ramac.types import Batch


def _params(module, prefix):
    return {n: p.detach().clone() for n, p in module.named_parameters() if n.startswith(prefix)}


def _same(a, b):
    return all(torch.equal(a[n], b[n]) for n in a)


def test_actor_and_targets_step_every_second_iteration():
    """O-RAAC steps the actor and both targets when its step counter (from 1) is even: iterations 1, 3, ..."""
    model = tiny_oraac(policy_update_every=2, target_update_rate=0.5)
    history = []

    def record(trainer, module, outputs, batch, batch_idx):
        history.append((_params(module, "actor."), _params(module, "actor_target."), _params(module, "critic_target."),
                        _params(module, "critic.")))

    class Recorder(pl.Callback):
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            record(trainer, module, outputs, batch, batch_idx)

    start = (_params(model, "actor."), _params(model, "actor_target."), _params(model, "critic_target."),
             _params(model, "critic."))
    quiet_trainer(max_steps=4, callbacks=[Recorder()]).fit(model, datamodule=TinyData())
    previous = start
    for iteration, now in enumerate(history):
        moved = [not _same(before, after) for before, after in zip(previous, now, strict=True)]
        assert moved[3], f"the critic steps every iteration (iteration {iteration})"
        assert moved[:3] == [iteration % 2 == 1] * 3, (iteration, moved)
        previous = now


def test_the_prior_gets_no_actor_or_critic_gradient():
    for prior in ("vae", "diffusion", "flow"):
        model = tiny_oraac(prior=prior)
        obs, actions = torch.randn(8, 3), torch.rand(8, 2) * 2 - 1
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            anchors = model.prior.sample(obs, generator)
        loss = -model.critic(obs, model.actor(obs, anchors), torch.rand(3)).mean()
        loss = loss + model.critic(obs, actions, torch.rand(4)).square().mean()
        loss.backward()
        assert all(p.grad is None for p in model.prior.parameters()), prior
        assert any(p.grad is not None for p in model.actor.parameters())


def _reference_freeze_step(losses_by_step):
    """O-RAAC's rule written as in ORAAC.py l.110-122: the step after which the VAE stops training."""
    vector, counter = [], 0
    for step, loss in losses_by_step:
        if step > 10000 and not step % 100:
            vector.append(loss)
            if len(vector) > 50:
                counter = counter + 1 if abs(max(vector[-50:]) - min(vector[-50:])) <= 0.03 else 0
            if counter >= 10:
                return step
    return None


@pytest.mark.parametrize("noise", [0.0, 0.012, 0.05])
def test_the_vae_freeze_rule_fires_when_o_raac_does(noise):
    generator = torch.Generator().manual_seed(1)
    losses = [(step, 1.0 + noise * float(torch.rand((), generator=generator))) for step in range(1, 18_001)]
    expected = _reference_freeze_step(losses)
    model = tiny_oraac()
    frozen_at = None
    for step, loss in losses:
        model.iteration = step - 1
        model._freeze_rule(torch.tensor(loss))
        if frozen_at is None and bool(model.prior_frozen):
            frozen_at = step
    assert frozen_at == expected
    assert (expected is None) == (noise == 0.05)  # the three cases: freezes, freezes later or never


def test_the_frozen_prior_stops_training_and_resume_keeps_the_freeze(tmp_path):
    model = tiny_oraac()
    model.prior_frozen.fill_(True)
    before = _params(model, "prior.")
    trainer = quiet_trainer(max_steps=2, enable_checkpointing=True, default_root_dir=tmp_path)
    trainer.fit(model, datamodule=TinyData())
    assert _same(before, _params(model, "prior."))
    trainer.save_checkpoint(tmp_path / "frozen.ckpt")
    restored = tiny_oraac()
    restored.load_state_dict(torch.load(tmp_path / "frozen.ckpt", weights_only=False)["state_dict"])
    assert bool(restored.prior_frozen)


def test_zero_latent_acting_is_deterministic_and_refused_without_a_vae():
    model = tiny_oraac(eval_latent="zero").eval()
    obs = torch.randn(5, 3)
    first, second = model.act(obs, torch.Generator().manual_seed(0)), model.act(obs, torch.Generator().manual_seed(1))
    assert torch.equal(first, second)
    with pytest.raises(ValueError, match="eval_latent"):
        tiny_oraac(prior="diffusion", eval_latent="zero")


# -- against O-RAAC's code ---------------------------------------------------------------------------------------
ORAAC_ROOT = os.environ.get("RAMAC_ORAAC")
needs_oraac = pytest.mark.skipif(not ORAAC_ROOT,
                                 reason="set RAMAC_ORAAC to a clone of github.com/nuria95/O-RAAC (README, Tests)")


def _load_oraac():
    """O-RAAC's networks and loss, loaded from their files without its gym/D4RL package imports."""
    root = Path(ORAAC_ROOT) / "oraaclib" / "util"
    package = types.ModuleType("oraac_nn")
    package.__path__ = [str(root / "neural_networks")]
    sys.modules["oraac_nn"] = package
    loaded = {}
    for name, path in (("oraac_nn.utilities", root / "neural_networks" / "utilities.py"),
                       ("oraac_nn.neural_networks", root / "neural_networks" / "neural_networks.py"),
                       ("oraac_losses", root / "losses.py")):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded[name] = module
    return loaded["oraac_nn.neural_networks"], loaded["oraac_losses"]


def _copy_critic(reference, critic):
    """O-RAAC's DeterministicNN_IQN weights into ramac's critic (ensemble of one; ramac stores ``[in, out]``)."""
    pairs = {"state": reference.fc_state[0], "action": reference.fc_action[0], "fuse": reference.fc_state_action[0],
             "tau": reference.head_tau[0], "hidden": reference.hidden_layers_f[0]}
    with torch.no_grad():
        for name, layer in pairs.items():
            getattr(critic, f"{name}_weight")[0].copy_(layer.weight.T)
            getattr(critic, f"{name}_bias")[0].copy_(layer.bias)
        critic.head_weight[0].copy_(reference.head.weight[0])
        critic.head_bias[0].copy_(reference.head.bias[0])


@needs_oraac
def test_networks_and_losses_equal_o_raacs_on_the_same_batch():
    nn_ref, losses_ref = _load_oraac()
    torch.manual_seed(0)
    obs_dim, action_dim, batch = 11, 3, 64
    model = oraac_module.ORAAC(obs_dim, action_dim, critic_hidden_dim=128)  # O-RAAC's hopper sizes
    vae = nn_ref.VAE(dim_state=obs_dim, dim_action=action_dim, latent_dim=2 * action_dim, max_action=1.0)
    actor = nn_ref.ORAAC_Actor(dim_state=obs_dim, dim_action=action_dim, max_action=1.0, lamda=0.25)
    critic = nn_ref.DeterministicNN_IQN(obs_dim, action_dim, layers_state=[128], layers_action=[128], layers_f=[32],
                                        tau_embed_dim=16, embedding_dim=16)
    target_critic, target_actor = copy.deepcopy(critic), copy.deepcopy(actor)
    with torch.no_grad():
        for ours, theirs in ((model.prior.encoder, (vae.e1, vae.e2)), (model.prior.decoder, (vae.d1, vae.d2, vae.d3))):
            for index, layer in zip((0, 2, 4), theirs, strict=False):
                ours[index].weight.copy_(layer.weight)
                ours[index].bias.copy_(layer.bias)
        model.prior.encoder[4].weight.copy_(torch.cat((vae.mean.weight, vae.log_std.weight)))
        model.prior.encoder[4].bias.copy_(torch.cat((vae.mean.bias, vae.log_std.bias)))
        for index, layer in zip((0, 2, 4), (actor.l1, actor.l2, actor.l3), strict=True):
            model.actor.net[index].weight.copy_(layer.weight)
            model.actor.net[index].bias.copy_(layer.bias)
    _copy_critic(critic, model.critic)
    _copy_critic(target_critic, model.critic_target)
    model.actor_target.load_state_dict(model.actor.state_dict())

    obs, actions = torch.randn(batch, obs_dim), torch.rand(batch, action_dim) * 2 - 1
    batch_ = Batch(obs, actions, torch.randn(batch), torch.randn(batch, obs_dim), (torch.rand(batch) < 0.1).float())

    # VAE: the negative ELBO on the same latent noise (both draw it first from a stream seeded alike).
    torch.manual_seed(7)
    recon, mean, std = vae(obs, actions)
    kl = torch.distributions.kl_divergence(torch.distributions.Normal(mean, std),
                                           torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(std)))
    theirs = torch.nn.functional.mse_loss(recon, actions) + 0.5 * kl.mean()
    ours = model.prior.bc_loss(obs, actions, torch.Generator().manual_seed(7))
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)

    # Critic: O-RAAC's TD target and quantile-Huber loss at the same levels and next actions.
    latent = torch.randn(batch, 2 * action_dim).clamp(-0.5, 0.5)
    next_anchors = vae.decode(batch_.next_observations, latent)
    torch.testing.assert_close(model.prior.actions_from_noise(batch_.next_observations, latent), next_anchors)
    next_actions = target_actor(batch_.next_observations, next_anchors)
    torch.testing.assert_close(model.actor_target(batch_.next_observations, next_anchors), next_actions)
    taus, target_taus = torch.rand(32), torch.rand(32)
    current = critic.get_sampled_Z(obs, taus, actions)
    torch.testing.assert_close(model.critic(obs, actions, taus)[0], current, rtol=1e-5, atol=1e-6)
    target = (batch_.rewards.unsqueeze(-1) + 0.99 * target_critic.get_sampled_Z(batch_.next_observations, target_taus,
                                                                                  next_actions)
              * (1 - batch_.terminals.unsqueeze(-1)))
    theirs = losses_ref.quantile_huber_loss(target.detach(), current, taus)
    ours, _, _ = oraac_module.iqn_td_loss(model.critic, model.critic_target, batch_, next_actions, taus, target_taus,
                                          0.99, None, 1.0, "standard", level_reduction="mean")
    torch.testing.assert_close(ours[0], theirs, rtol=1e-5, atol=1e-6)

    # Actor: −mean Z at K = 8 CVaR levels of the perturbed anchor.
    anchors = vae.decode(obs, latent)
    risk_levels = torch.rand(8) * 0.1
    theirs = -critic.get_sampled_Z(obs, risk_levels, actor(obs, anchors)).mean()
    ours = -model.critic(obs, model.actor(obs, anchors), risk_levels, detach_params=True).mean()
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)
