"""CODAC: conservative offline distributional actor-critic (Ma et al., NeurIPS 2021), ported from its code
(``JasonMa2016/CODAC`` @ 991866b, ``distributional/codac.py`` ``update_parameters`` with ``version=2``).

One iteration, in that order:

1. a reparameterised ``ã ~ π(·|s)`` with ``log π(ã|s)`` (kept for the actor loss); with automatic entropy the
   temperature steps first: ``−log α · (log π + target_entropy)``;
2. critic target at random fractions ``τ̂'`` (:func:`ramac.objectives.distributional.quantile_fractions`) and
   ``a' ~ π̄(·|s')`` from the *target* policy: ``y_j = r + γ (1 − d) (min_e Z̄_e(s', a'; τ̂'_j) − α log π̄(a'|s'))``;
3. critics at fresh fractions ``τ̂``: the quantile-Huber loss with each target sample weighted by its fraction's
   width, averaged over levels (DSAC ``quantile_regression_loss``), plus the conservative penalty (CQL(H) on the
   quantile at one random column ``k`` of ``τ̂``): ``w · (mean_b log Σ_j exp(Z(s, a_j; τ̂_k) − log μ(a_j)) −
   mean_{b,i} Z(s, a; τ̂_i))`` over ``P`` uniform, ``P`` π(s) and ``P`` π(s') actions
   (:func:`ramac.objectives.conservative.conservative_penalty`); with a Lagrange threshold, ``α'`` steps first on
   ``−mean_e α' (penalty_e − threshold)`` and the critics use its value from before that step;
4. actor, with the updated critics: ``mean (α log π(ã|s) − min_e Σ_i w(τ̂ᵃ_i) Δτᵃ_i Z_e(s, ã; τ̂ᵃ_i))`` at fresh
   fractions, ``w`` the density of the risk distortion (:func:`ramac.objectives.risk.distortion_density`);
5. Polyak updates of the target critics and the target policy.

Acting: the mean action ``tanh μ(s)`` (``select_action(eval=True)``).

Deviations from the code, each with the option that restores it:

- CODAC clamps the distortion weights to ``[0, 5]`` (``risks.py`` ``distortion_de``), which halves the weight
  ``1/α = 10`` of CVaR₀.₁: the actor then maximises half the CVaR against the same entropy bonus. Off by default;
  ``distortion_weight_clamp: 5.0`` restores it.
- CODAC overwrites the target entropy ``−A`` with ``−3`` whatever the action dimension (``codac.py`` l.101-103);
  ramac uses ``−A`` (its comment's intent); ``target_entropy: -3`` restores it.
- CODAC's target networks start from their own random initialisation (``codac.py`` l.75-82, l.110); ramac copies
  the online networks; ``independent_targets: true`` restores it.
- The policy's mean and log-σ heads are one ``Linear(H, 2A)`` (its Xavier bound uses ``2A``), and its tanh
  correction is exact where CODAC adds 1e-6 inside the log; levels and action samples come from ramac's
  per-iteration generator.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ramac.actors.tanh_gaussian import TanhGaussianActor
from ramac.critics.quantile_mlp import TwinQuantileCritic
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.nn.mlp import LogScalar
from ramac.objectives.conservative import conservative_penalty
from ramac.objectives.distributional import quantile_fractions, quantile_huber_loss
from ramac.objectives.risk import Distortion, check_distortion, distortion_density
from ramac.training.averaging import soft_update_
from ramac.types import Batch


class CODAC(OfflineLearner):
    """CODAC. Defaults: ``CODAC.__init__`` and ``train_offline.py`` (2 × 256 networks, critic and α' lr 3e-4, actor
    lr 3e-5, fixed α 0.2, N 32, P 10, weight 10 with a Lagrange threshold 10), risk CVaR₀.₁ (its ``risk_param``
    default, the risk-averse setting RAMAC compares against); ``conf/algos/codac/<task>.yaml`` holds
    ``configs/d4rl_configs.json``'s per-task values.

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        hidden_dim: width of the policy and the critics.
        cosine_features: ``C`` cosine features of the fraction embedding (CODAC's ``embedding_size`` 64).
        n_quantiles: ``N`` fractions per sample.
        discount, target_update_rate: ``γ`` and the Polyak rate of both targets.
        actor_lr, critic_lr, alpha_prime_lr: Adam learning rates (the temperature uses ``actor_lr``, as CODAC).
        temperature: ``α`` when fixed; automatic_entropy: learn ``log α`` from 0 instead;
        target_entropy: default ``−A``.
        conservative_weight: ``w`` (``min_z_weight``); n_action_samples: ``P`` (``num_random``).
        lagrange_threshold: with a value, ``α'`` is learned from 1 (``with_lagrange``, ``lagrange_thresh``);
            ``None``: ``α' = 1``.
        distortion, cvar_alpha, distortion_param: the actor's risk measure (``neutral``, ``cvar`` or ``wang``).
        distortion_weight_clamp: cap of the distortion weights (CODAC: 5; ``None``: no cap).
        independent_targets: initialise the targets apart from the online networks (CODAC).
        seed: see :class:`OfflineLearner`.
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, hidden_dim: int = 256,
                 cosine_features: int = 64, n_quantiles: int = 32, discount: float = 0.99,
                 target_update_rate: float = 5e-3, actor_lr: float = 3e-5, critic_lr: float = 3e-4,
                 alpha_prime_lr: float = 3e-4, temperature: float = 0.2, automatic_entropy: bool = False,
                 target_entropy: float | None = None, conservative_weight: float = 10.0, n_action_samples: int = 10,
                 lagrange_threshold: float | None = 10.0, distortion: Distortion = "cvar", cvar_alpha: float = 0.1,
                 distortion_param: float | None = None, distortion_weight_clamp: float | None = None,
                 independent_targets: bool = False, seed: int = 0) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_distortion(distortion, cvar_alpha, distortion_param)
        if distortion not in ("neutral", "cvar", "wang"):
            raise ValueError(f"CODAC: distortion must be 'neutral', 'cvar' or 'wang' (quantile weights), got "
                             f"{distortion!r}")
        check_positive("CODAC", n_quantiles=n_quantiles, discount=discount, target_update_rate=target_update_rate,
                       actor_lr=actor_lr, critic_lr=critic_lr, alpha_prime_lr=alpha_prime_lr, temperature=temperature,
                       n_action_samples=n_action_samples)
        check_non_negative("CODAC", conservative_weight=conservative_weight)
        if distortion_weight_clamp is not None:
            check_positive("CODAC", distortion_weight_clamp=distortion_weight_clamp)
        self.action_dim = action_dim
        self.target_entropy = -float(action_dim) if target_entropy is None else target_entropy
        self.actor = TanhGaussianActor(obs_dim, action_dim, max_action, hidden_dim, 2, xavier_init=True)
        self.critic = TwinQuantileCritic(obs_dim, action_dim, hidden_dim, cosine_features)
        if independent_targets:
            self.actor_target = TanhGaussianActor(obs_dim, action_dim, max_action, hidden_dim, 2, xavier_init=True)
            self.critic_target = TwinQuantileCritic(obs_dim, action_dim, hidden_dim, cosine_features)
        else:
            self.actor_target, self.critic_target = copy.deepcopy(self.actor), copy.deepcopy(self.critic)
        self.actor_target.requires_grad_(False)
        self.critic_target.requires_grad_(False)
        self.entropy_temperature = LogScalar(1.0 if automatic_entropy else temperature)  # CODAC: log α from 0
        self.alpha_prime = LogScalar(1.0)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp, fused = self.hparams, self.device.type in ("cpu", "cuda")
        return [torch.optim.Adam(self.entropy_temperature.parameters(), lr=hp.actor_lr),
                torch.optim.Adam(self.alpha_prime.parameters(), lr=hp.alpha_prime_lr),
                torch.optim.Adam(self.critic.parameters(), lr=hp.critic_lr, fused=fused),
                torch.optim.Adam(self.actor.parameters(), lr=hp.actor_lr, fused=fused)]

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        temperature_opt, alpha_prime_opt, critic_opt, actor_opt = self.optimizers()
        obs, actions, next_obs = batch.observations, batch.actions, batch.next_observations
        size, device = obs.shape[0], obs.device

        # Policy sample for the actor loss; the temperature's step first.
        policy_actions, log_prob = self.actor.sample_with_log_prob(obs, generator)  # [B, A], [B]
        if hp.automatic_entropy:
            temperature_loss = -(self.entropy_temperature.log_value * (log_prob.detach() + self.target_entropy)).mean()
            self.optimize(temperature_opt, temperature_loss, self.entropy_temperature)
        temperature = self.entropy_temperature().detach()

        # Critic target: target policy, min of the target critics minus the entropy term.
        with torch.no_grad():
            next_actions, next_log_prob = self.actor_target.sample_with_log_prob(next_obs, generator)
            next_taus, next_widths = quantile_fractions(size, hp.n_quantiles, generator, device)
            next_z = self.critic_target(next_obs, next_actions, next_taus).float().amin(0)  # [B, M]
            soft_next = next_z - temperature * next_log_prob.unsqueeze(-1)
            target = batch.rewards.unsqueeze(-1) + hp.discount * (1.0 - batch.terminals).unsqueeze(-1) * soft_next
        taus, _ = quantile_fractions(size, hp.n_quantiles, generator, device)
        z = self.critic(obs, actions, taus).float()  # [E, B, N]
        td_losses = quantile_huber_loss(z, target, taus, target_weights=next_widths, level_reduction="mean")  # [E]

        # Conservative penalty on the quantile at one random column of τ̂.
        count = hp.n_action_samples
        with torch.no_grad():
            random_actions = (torch.rand((size, count, self.action_dim), generator=generator, device=device) * 2 - 1
                              ) * self.actor.max_action  # [B, P, A]
            both = torch.cat((obs, next_obs)).repeat_interleave(count, 0)  # [2·B·P, O]
            sampled_policy, sampled_log_prob = self.actor.sample_with_log_prob(both, generator)
            column = int(torch.randint(hp.n_quantiles, (1,), generator=generator, device=device))
        sampled = torch.cat((random_actions, sampled_policy.view(2, size, count, -1).transpose(0, 1)
                             .reshape(size, 2 * count, -1)), 1)  # [B, 3P, A]
        penalty_taus = taus[:, column].repeat_interleave(3 * count).unsqueeze(-1)  # [B·3P, 1]
        z_sampled = self.critic(obs.repeat_interleave(3 * count, 0), sampled.reshape(-1, self.action_dim),
                                penalty_taus).float().view(z.shape[0], size, 3 * count)
        z_random, z_policy, z_next_policy = z_sampled.split(count, -1)
        log_prob_policy, log_prob_next = sampled_log_prob.view(2, size, count)
        penalty = hp.conservative_weight * conservative_penalty(
            z.mean(-1), z_random, z_policy, log_prob_policy, z_next_policy, log_prob_next, self.action_dim,
            self.actor.max_action)  # [E]

        # Lagrange multiplier (its step first, on its value before the step), then the critics.
        alpha_prime = self.alpha_prime().clamp(0.0, 1e6)
        if hp.lagrange_threshold is not None:
            gap = penalty - hp.lagrange_threshold
            self.optimize(alpha_prime_opt, -(alpha_prime * gap.detach()).mean(), self.alpha_prime)
            penalty_term = alpha_prime.detach() * gap
        else:
            penalty_term = penalty
        critic_norm = self.optimize(critic_opt, (td_losses + penalty_term).sum(), self.critic)

        # Actor: distortion-weighted quantiles of the updated critics, min of the twins, entropy bonus.
        actor_taus, actor_widths = quantile_fractions(size, hp.n_quantiles, generator, device)
        weights = distortion_density(actor_taus, hp.distortion, hp.cvar_alpha, hp.distortion_param,
                                     hp.distortion_weight_clamp) * actor_widths  # [B, N]
        policy_z = self.critic(obs, policy_actions, actor_taus, detach_params=True).float()  # [E, B, N]
        risk = (weights * policy_z).sum(-1).amin(0)  # [B]
        actor_loss = (temperature * log_prob - risk).mean()
        actor_norm = self.optimize(actor_opt, actor_loss, self.actor, counted=True)

        # Targets.
        soft_update_(self.actor_target, self.actor, hp.target_update_rate)
        soft_update_(self.critic_target, self.critic, hp.target_update_rate)
        return {
            "train/critic/td_loss": td_losses.detach().sum(),
            "train/critic/penalty": penalty.detach().mean(),
            "train/critic/alpha_prime": alpha_prime.detach(),
            "train/critic/z_mean": z.detach().mean(),
            "train/critic/grad_norm": critic_norm,
            "train/actor/loss": actor_loss.detach(),
            "train/actor/risk": risk.detach().mean(),
            "train/actor/temperature": temperature,
            "train/actor/entropy": -log_prob.detach().mean(),
            "train/actor/grad_norm": actor_norm,
        }

    def bc_reference(self) -> BCReference:
        return BCReference(self.actor, self.hparams.actor_lr, 0.0)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        return self.actor.mean_action(self.obs_normalizer(obs))
