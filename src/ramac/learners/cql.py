"""CQL: conservative Q-learning (Kumar et al. 2020), SAC with the CQL(H) penalty, as d3rlpy implements it
(``takuseno/d3rlpy`` @ 38c34b6, ``algos/qlearning/torch/cql_impl.py`` and ``sac_impl.py``) with the settings of its
MuJoCo reproduction script (``reproductions/offline/cql.py``).

One iteration, in d3rlpy's order:

1. critic: target ``y = r + γ (1 − d) min_e Q̄_e(s', tanh μ(s'))`` (the deterministic backup; ``soft_q_backup``
   samples ``a' ~ π`` and subtracts ``α log π``); loss ``Σ_e mean (Q_e(s, a) − y)² + α' · Σ_e w · (penalty_e −
   threshold)`` with the conservative penalty of :func:`ramac.objectives.conservative.conservative_penalty`
   over ``P`` uniform, ``P`` π(s) and ``P`` π(s') actions; with a Lagrange threshold, ``α'`` takes its step first
   (``−α' · w · (penalty − threshold)``, i.e. it grows while the penalty exceeds the threshold);
2. temperature: ``−α (log π(ã|s) − A)`` (target entropy ``−A``), its step first;
3. actor: ``mean (α log π(ã|s) − min_e Q_e(s, ã))``, ``ã ~ π(·|s)`` reparameterised;
4. Polyak update of the target critics.

Acting: the mean action ``tanh μ(s)`` (d3rlpy ``predict``). The critics in the actor loss are read with detached
weights and ``α``, ``α'`` enter the other losses detached: the same updates as d3rlpy's, which backpropagates into
them and zeroes those gradients before they are used.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ramac.actors.tanh_gaussian import TanhGaussianActor
from ramac.critics.q import TwinQCritic
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.nn.mlp import LogScalar
from ramac.objectives.conservative import conservative_penalty
from ramac.objectives.td import mse_td_loss, td_target
from ramac.training.averaging import soft_update_
from ramac.types import Batch


class CQL(OfflineLearner):
    """CQL. Defaults: d3rlpy's MuJoCo reproduction (3 × 256 ReLU networks, actor lr 1e-4, critic lr 3e-4,
    temperature lr 1e-4, 10 action samples, conservative weight 5, no Lagrange multiplier) and ``CQLConfig``.

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        hidden_dim, hidden_layers: actor and critic MLPs.
        discount, target_update_rate: ``γ`` and ``τ``.
        actor_lr, critic_lr, temperature_lr: Adam learning rates (``temperature_lr`` 0: fixed temperature).
        initial_temperature: ``α`` at the start.
        conservative_weight: ``w``, the weight of the penalty.
        n_action_samples: ``P``, actions per state and source in the penalty.
        lagrange_threshold: with a value, the Lagrange version: ``α'`` learned (``alpha_prime_lr``) so that the
            penalty stays near the threshold; ``None``: ``α'`` fixed at ``initial_alpha_prime``.
        alpha_prime_lr, initial_alpha_prime: the multiplier's learning rate and start.
        penalty_temperature: ``T`` of the log-sum-exp (1 in CQL(H)).
        soft_q_backup: sample the target action and subtract the entropy term (SAC's backup).
        seed: see :class:`OfflineLearner`.
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, hidden_dim: int = 256,
                 hidden_layers: int = 3, discount: float = 0.99, target_update_rate: float = 0.005,
                 actor_lr: float = 1e-4, critic_lr: float = 3e-4, temperature_lr: float = 1e-4,
                 initial_temperature: float = 1.0, conservative_weight: float = 5.0, n_action_samples: int = 10,
                 lagrange_threshold: float | None = None, alpha_prime_lr: float = 1e-4,
                 initial_alpha_prime: float = 1.0, penalty_temperature: float = 1.0, soft_q_backup: bool = False,
                 seed: int = 0) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_positive("CQL", discount=discount, target_update_rate=target_update_rate, actor_lr=actor_lr,
                       critic_lr=critic_lr, n_action_samples=n_action_samples, penalty_temperature=penalty_temperature,
                       alpha_prime_lr=alpha_prime_lr)
        check_non_negative("CQL", temperature_lr=temperature_lr, conservative_weight=conservative_weight)
        self.action_dim = action_dim
        self.actor = TanhGaussianActor(obs_dim, action_dim, max_action, hidden_dim, hidden_layers)
        self.critic = TwinQCritic(obs_dim, action_dim, hidden_dim, hidden_layers, activation="relu")
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.temperature = LogScalar(initial_temperature)
        self.alpha_prime = LogScalar(initial_alpha_prime)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp, fused = self.hparams, self.device.type in ("cpu", "cuda")
        return [torch.optim.Adam(self.alpha_prime.parameters(), lr=hp.alpha_prime_lr),
                torch.optim.Adam(self.critic.parameters(), lr=hp.critic_lr, fused=fused),
                torch.optim.Adam(self.temperature.parameters(), lr=hp.temperature_lr),
                torch.optim.Adam(self.actor.parameters(), lr=hp.actor_lr, fused=fused)]

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        alpha_prime_opt, critic_opt, temperature_opt, actor_opt = self.optimizers()
        obs, actions = batch.observations, batch.actions

        # Critic: TD to the min of the target twins, deterministic (or soft) backup.
        with torch.no_grad():
            if hp.soft_q_backup:
                next_actions, next_log_prob = self.actor.sample_with_log_prob(batch.next_observations, generator)
                next_q = self.critic_target(batch.next_observations, next_actions).amin(0)
                next_q = (next_q - self.temperature() * next_log_prob).unsqueeze(0)  # [1, B]
            else:
                next_q = self.critic_target(batch.next_observations, self.actor.mean_action(batch.next_observations))
            target = td_target(batch.rewards, batch.terminals, next_q.float(), hp.discount)  # [B]
        q = self.critic(obs, actions).float()  # [E, B]
        td_loss = mse_td_loss(q, target).sum()

        # The conservative penalty (CQL(H), importance-sampled log-sum-exp) over P uniform, P π(s) and P π(s')
        # actions per state, all evaluated at s in one critic call.
        count = hp.n_action_samples
        with torch.no_grad():
            random_actions = (torch.rand((obs.shape[0], count, self.action_dim), generator=generator,
                                         device=obs.device) * 2 - 1) * self.actor.max_action  # [B, P, A]
            both = torch.cat((obs, batch.next_observations)).repeat_interleave(count, 0)  # [2·B·P, O]
            policy_actions_both, log_prob_both = self.actor.sample_with_log_prob(both, generator)
        sampled = torch.cat((random_actions, policy_actions_both.view(2, obs.shape[0], count, -1).transpose(0, 1)
                             .reshape(obs.shape[0], 2 * count, -1)), 1)  # [B, 3P, A]
        q_sampled = self.critic(obs.repeat_interleave(3 * count, 0), sampled.reshape(-1, self.action_dim))
        q_random, q_policy, q_next_policy = q_sampled.float().view(q.shape[0], -1, 3 * count).split(count, -1)
        log_prob_policy, log_prob_next = log_prob_both.view(2, -1, count)  # [B, P] each
        penalty = hp.conservative_weight * (conservative_penalty(
            q, q_random, q_policy, log_prob_policy, q_next_policy, log_prob_next, self.action_dim,
            self.actor.max_action, hp.penalty_temperature) - (hp.lagrange_threshold or 0.0))  # [E]

        # Lagrange multiplier α' (its step before the critic's, as in d3rlpy), then the critic.
        if hp.lagrange_threshold is not None:
            alpha_prime_loss = -(self.alpha_prime().clamp(0.0, 1e6) * penalty.detach()).mean()
            self.optimize(alpha_prime_opt, alpha_prime_loss, self.alpha_prime)
        alpha_prime = self.alpha_prime().clamp(0.0, 1e6).detach()
        critic_norm = self.optimize(critic_opt, td_loss + alpha_prime * penalty.sum(), self.critic)

        # Temperature (its step first), then the actor: the SAC objective against the min of the twins.
        policy_actions, log_prob = self.actor.sample_with_log_prob(obs, generator)  # [B, A], [B]
        if hp.temperature_lr > 0:
            temperature_loss = -(self.temperature() * (log_prob.detach() - self.action_dim)).mean()
            self.optimize(temperature_opt, temperature_loss, self.temperature)
        temperature = self.temperature().detach()
        policy_q = self.critic(obs, policy_actions, detach_params=True).amin(0).float()  # [B]
        actor_loss = (temperature * log_prob - policy_q).mean()
        actor_norm = self.optimize(actor_opt, actor_loss, self.actor, counted=True)

        # Targets.
        soft_update_(self.critic_target, self.critic, hp.target_update_rate)
        return {
            "train/critic/td_loss": td_loss.detach(),
            "train/critic/penalty": penalty.detach().mean(),
            "train/critic/alpha_prime": alpha_prime,
            "train/critic/q_mean": q.detach().mean(),
            "train/critic/grad_norm": critic_norm,
            "train/actor/loss": actor_loss.detach(),
            "train/actor/temperature": temperature,
            "train/actor/entropy": -log_prob.detach().mean(),
            "train/actor/grad_norm": actor_norm,
        }

    def bc_reference(self) -> BCReference:
        return BCReference(self.actor, self.hparams.actor_lr, 0.0)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        return self.actor.mean_action(self.obs_normalizer(obs))
