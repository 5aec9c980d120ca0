"""ramac's CQL against d3rlpy's (2.8.1) on the same batch, parameters and sampled actions.

d3rlpy stays out of the project's environment (it pins gymnasium 1.0 and pulls gym 0.26): install it apart with
``bash bench/d3rlpy_env.sh DIR`` and run the tests with ``RAMAC_D3RLPY=DIR``; without it this module is skipped.
d3rlpy's own sampling cannot be aligned with ramac's generator, so its samplers are replaced by the same actions
while its own Q evaluation, log-sum-exp, TD error and loss assembly run.
"""

from __future__ import annotations

import os
import sys
import warnings

import pytest
import torch

if os.environ.get("RAMAC_D3RLPY"):
    sys.path.append(os.environ["RAMAC_D3RLPY"])
warnings.filterwarnings("ignore")
d3rlpy = pytest.importorskip("d3rlpy", reason="set RAMAC_D3RLPY to a d3rlpy install (bench/d3rlpy_env.sh)")

from d3rlpy.algos.qlearning.torch import cql_impl  # noqa: E402
from d3rlpy.models.encoders import VectorEncoderFactory  # noqa: E402
from d3rlpy.torch_utility import TorchMiniBatch  # noqa: E402

from ramac.learners.cql import CQL  # noqa: E402
from ramac.objectives.conservative import conservative_penalty  # noqa: E402
from ramac.objectives.td import mse_td_loss, td_target  # noqa: E402

OBS, ACT, HIDDEN, SAMPLES, BATCH = 5, 3, 32, 4, 16


def pair():
    """d3rlpy's CQL and ramac's with d3rlpy's weights copied in."""
    torch.manual_seed(0)
    config = d3rlpy.algos.CQLConfig(actor_encoder_factory=VectorEncoderFactory([HIDDEN, HIDDEN]),
                                    critic_encoder_factory=VectorEncoderFactory([HIDDEN, HIDDEN]),
                                    n_action_samples=SAMPLES, alpha_learning_rate=0.0, conservative_weight=5.0,
                                    alpha_threshold=10.0)
    algo = config.create(device="cpu:0")
    algo.create_impl((OBS,), ACT)
    impl = algo.impl
    ours = CQL(OBS, ACT, hidden_dim=HIDDEN, hidden_layers=2, n_action_samples=SAMPLES, lagrange_threshold=None)
    modules = impl._modules
    with torch.no_grad():
        for theirs, mine in ((modules.q_funcs, ours.critic), (modules.targ_q_funcs, ours.critic_target)):
            for q_func, member in zip(theirs, mine.members, strict=True):
                for index, layer in ((0, q_func._encoder._layers[0]), (2, q_func._encoder._layers[2]),
                                     (4, q_func._fc)):
                    member[index].weight.copy_(layer.weight)
                    member[index].bias.copy_(layer.bias)
        policy = modules.policy
        for index in (0, 2):
            ours.actor.net[index].weight.copy_(policy._encoder._layers[index].weight)
            ours.actor.net[index].bias.copy_(policy._encoder._layers[index].bias)
        ours.actor.net[4].weight.copy_(torch.cat((policy._mu.weight, policy._logstd.weight)))
        ours.actor.net[4].bias.copy_(torch.cat((policy._mu.bias, policy._logstd.bias)))
    return impl, ours


def batch():
    g = torch.Generator().manual_seed(1)
    obs, next_obs = torch.randn(BATCH, OBS, generator=g), torch.randn(BATCH, OBS, generator=g)
    actions = torch.rand(BATCH, ACT, generator=g) * 2 - 1
    rewards, terminals = torch.randn(BATCH, generator=g), (torch.rand(BATCH, generator=g) < 0.2).float()
    return obs, actions, rewards, next_obs, terminals


def test_same_policy_and_deterministic_target():
    impl, ours = pair()
    obs, actions, rewards, next_obs, terminals = batch()
    theirs = impl._modules.policy(next_obs)
    assert torch.allclose(torch.tanh(theirs.mu), ours.actor.mean_action(next_obs), atol=1e-6)
    mini = TorchMiniBatch(obs, actions, rewards.view(-1, 1), next_obs, actions, rewards.view(-1, 1),
                          terminals.view(-1, 1), torch.ones(BATCH, 1), "cpu:0")
    with torch.no_grad():
        their_target = impl.compute_target(mini)  # [B, 1]
        our_next_q = ours.critic_target(next_obs, ours.actor.mean_action(next_obs)).amin(0)
    assert torch.allclose(their_target.view(-1), our_next_q, atol=1e-5)


def test_same_conservative_penalty_and_critic_loss(monkeypatch):
    impl, ours = pair()
    obs, actions, rewards, next_obs, terminals = batch()
    g = torch.Generator().manual_seed(2)
    random_actions = torch.rand(BATCH * SAMPLES, ACT, generator=g) * 2 - 1
    with torch.no_grad():
        pi_s, logp_s = ours.actor.sample_with_log_prob(obs.repeat_interleave(SAMPLES, 0), g)
        pi_next, logp_next = ours.actor.sample_with_log_prob(next_obs.repeat_interleave(SAMPLES, 0), g)

    def fixed_policy_values(policy, q_func_forwarder, policy_observations, value_observations, n_action_samples,
                            detach_policy_output):  # d3rlpy's utility with our sampled actions
        acts, logp = (pi_s, logp_s) if policy_observations is obs else (pi_next, logp_next)
        flat_obs = value_observations.repeat_interleave(n_action_samples, 0)
        values = q_func_forwarder.compute_expected_q(flat_obs, acts, "none")
        return values.view(-1, BATCH, n_action_samples), logp.view(1, -1, n_action_samples)

    def fixed_random_values(observations):
        flat_obs = observations.repeat_interleave(SAMPLES, 0)
        values = impl._q_func_forwarder.compute_expected_q(flat_obs, random_actions, "none")
        return values.view(-1, BATCH, SAMPLES), torch.log(torch.tensor(0.5**ACT)).item()

    monkeypatch.setattr(cql_impl, "sample_q_values_with_policy", fixed_policy_values)
    monkeypatch.setattr(impl, "_compute_random_is_values", fixed_random_values)
    mini = TorchMiniBatch(obs, actions, rewards.view(-1, 1), next_obs, actions, rewards.view(-1, 1),
                          terminals.view(-1, 1), torch.ones(BATCH, 1), "cpu:0")
    their_penalty = impl._compute_conservative_loss(obs, actions, next_obs, mini.returns_to_go)  # [E]

    q = ours.critic(obs, actions)  # [E, B]
    view = lambda x: x.view(2, BATCH, SAMPLES)  # noqa: E731
    ours_penalty = 5.0 * (conservative_penalty(
        q, view(ours.critic(obs.repeat_interleave(SAMPLES, 0), random_actions)),
        view(ours.critic(obs.repeat_interleave(SAMPLES, 0), pi_s)), logp_s.view(BATCH, SAMPLES),
        view(ours.critic(obs.repeat_interleave(SAMPLES, 0), pi_next)), logp_next.view(BATCH, SAMPLES), ACT) - 10.0)
    assert torch.allclose(their_penalty, ours_penalty, atol=1e-5)

    with torch.no_grad():
        q_tpn = impl.compute_target(mini)
    their_loss = impl.compute_critic_loss(mini, q_tpn).critic_loss
    target = td_target(rewards, terminals, q_tpn.view(1, -1), 0.99)
    our_loss = mse_td_loss(q, target).sum() + 1.0 * ours_penalty.sum()  # α' = initial 1.0, no Lagrange
    assert their_loss.item() == pytest.approx(our_loss.item(), rel=1e-5)
