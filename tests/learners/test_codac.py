"""CODAC: the penalty column, the Lagrange step, the weight clamp option, and (with ``RAMAC_CODAC`` naming a CODAC
checkout) networks and losses against CODAC's own functions on the same batch."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from helpers.references import load_codac
from helpers.tiny import TinyData, quiet_trainer, tiny_codac

from ramac.objectives.distributional import quantile_fractions, quantile_huber_loss
from ramac.objectives.risk import distortion_density


def test_without_a_lagrange_threshold_alpha_prime_stays_one():
    model = tiny_codac(lagrange_threshold=None, automatic_entropy=False, temperature=0.2)
    quiet_trainer(max_steps=3).fit(model, datamodule=TinyData())
    assert float(model.alpha_prime()) == 1.0
    assert float(model.entropy_temperature()) == pytest.approx(0.2)


def test_with_a_threshold_alpha_prime_grows_while_the_penalty_exceeds_it():
    model = tiny_codac(lagrange_threshold=-1e3, alpha_prime_lr=0.1)  # the penalty is always above the threshold
    quiet_trainer(max_steps=3).fit(model, datamodule=TinyData())
    assert float(model.alpha_prime()) > 1.0


def test_options_entropy_target_distortions_and_target_initialisation():
    assert tiny_codac().target_entropy == -2.0 and tiny_codac(target_entropy=-3.0).target_entropy == -3.0
    with pytest.raises(ValueError, match="distortion must be"):
        tiny_codac(distortion="cpw")
    independent = tiny_codac(independent_targets=True)
    assert not torch.equal(independent.actor.net[0].weight, independent.actor_target.net[0].weight)
    copied = tiny_codac()
    assert torch.equal(copied.actor.net[0].weight, copied.actor_target.net[0].weight)


# -- against CODAC's code ----------------------------------------------------------------------------------------
CODAC_ROOT = os.environ.get("RAMAC_CODAC")
needs_codac = pytest.mark.skipif(not CODAC_ROOT,
                                 reason="set RAMAC_CODAC to a clone of github.com/JasonMa2016/CODAC (README, Tests)")


@needs_codac
def test_networks_and_losses_equal_codacs_on_the_same_batch():
    ref = load_codac(CODAC_ROOT)
    torch.manual_seed(0)
    obs_dim, action_dim, size, levels, count = 11, 3, 32, 32, 10
    model = tiny_codac(obs_dim=obs_dim, action_dim=action_dim, hidden_dim=256, cosine_features=64,
                       n_quantiles=levels, n_action_samples=count, automatic_entropy=False)
    zf = [ref["distributional.networks"].QuantileMlp(input_size=obs_dim + action_dim, output_size=1,
                                                      num_quantiles=levels, hidden_sizes=[256, 256]) for _ in range(2)]
    target_zf = [ref["distributional.networks"].QuantileMlp(input_size=obs_dim + action_dim, output_size=1,
                                                             num_quantiles=levels, hidden_sizes=[256, 256])
                 for _ in range(2)]
    for ours, theirs in ((model.critic, zf), (model.critic_target, target_zf)):
        for member, reference in zip(ours.members, theirs, strict=True):
            member.load_state_dict(reference.state_dict())

    obs, actions = torch.randn(size, obs_dim), torch.rand(size, action_dim) * 2 - 1
    rewards, next_obs, terminals = torch.randn(size), torch.randn(size, obs_dim), (torch.rand(size) < 0.1).float()
    generator = torch.Generator().manual_seed(1)
    taus, _ = quantile_fractions(size, levels, generator, torch.device("cpu"))
    next_taus, next_widths = quantile_fractions(size, levels, generator, torch.device("cpu"))

    # Networks.
    z = model.critic(obs, actions, taus)
    torch.testing.assert_close(z, torch.stack([f(obs, actions, taus) for f in zf]), rtol=1e-5, atol=1e-5)

    # TD loss: CODAC's target with a fixed α and its quantile_regression_loss.
    next_actions, next_log_prob = torch.rand(size, action_dim) * 2 - 1, torch.randn(size)
    with torch.no_grad():
        target = (rewards.unsqueeze(1) + (1 - terminals.unsqueeze(1)) * 0.99
                  * (torch.min(*[f(next_obs, next_actions, next_taus) for f in target_zf])
                     - 0.2 * next_log_prob.unsqueeze(1)))
    theirs = torch.stack([ref["distributional.dsac"].quantile_regression_loss(f(obs, actions, taus), target, taus,
                                                                             next_widths) for f in zf])
    ours = quantile_huber_loss(z, target, taus, target_weights=next_widths, level_reduction="mean")
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)

    # Penalty at one column (codac.py l.239-267), through CODAC's own helpers on our sampled actions.
    column = 5
    random_actions = torch.rand(size, count, action_dim) * 2 - 1
    policy_actions, next_policy_actions = torch.rand(2, size, count, action_dim) * 2 - 1
    log_pi, next_log_pi = torch.randn(2, size, count)
    column_taus = taus[:, column:column + 1]

    def values(f, a):  # CODAC _get_tensor_values for one critic
        return f(obs.unsqueeze(1).repeat(1, count, 1).view(-1, obs_dim), a.reshape(-1, action_dim),
                 column_taus.unsqueeze(1).repeat(1, count, 1).view(-1, 1)).view(size, count, -1)

    theirs = []
    for f in zf:
        cat = torch.cat([values(f, random_actions) - np.log(0.5 ** action_dim),
                         values(f, next_policy_actions) - next_log_pi.unsqueeze(-1),
                         values(f, policy_actions) - log_pi.unsqueeze(-1)], 1)
        theirs.append((torch.logsumexp(cat, dim=1).mean() - f(obs, actions, taus).mean()) * 10.0)
    from ramac.objectives.conservative import conservative_penalty

    sampled = torch.cat((random_actions, policy_actions, next_policy_actions), 1)
    z_sampled = model.critic(obs.repeat_interleave(3 * count, 0), sampled.reshape(-1, action_dim),
                             taus[:, column].repeat_interleave(3 * count).unsqueeze(-1)).view(2, size, 3 * count)
    z_random, z_policy, z_next = z_sampled.split(count, -1)
    ours = 10.0 * conservative_penalty(z.mean(-1), z_random, z_policy, log_pi, z_next, next_log_pi, action_dim)
    torch.testing.assert_close(ours, torch.stack(theirs), rtol=1e-5, atol=1e-5)

    # Actor: distortion-weighted quantiles, CODAC's distortion_de (with its clamp) against ours.
    actor_taus, actor_widths = quantile_fractions(size, levels, generator, torch.device("cpu"))
    new_actions = torch.rand(size, action_dim) * 2 - 1
    risks = ref["distributional.risks"]
    theirs_q = torch.min(*[torch.sum(risks.distortion_de(actor_taus, "cvar", 0.1) * actor_widths
                                     * f(obs, new_actions, actor_taus), dim=1) for f in zf])
    weights = distortion_density(actor_taus, "cvar", 0.1, clamp_max=5.0) * actor_widths
    ours_q = (weights * model.critic(obs, new_actions, actor_taus)).sum(-1).amin(0)
    torch.testing.assert_close(ours_q, theirs_q, rtol=1e-5, atol=1e-5)
    wang = risks.distortion_de(actor_taus, "wang", 0.75)
    torch.testing.assert_close(distortion_density(actor_taus, "wang", 0.1, -0.75, clamp_max=5.0), wang,
                               rtol=1e-4, atol=1e-6)
