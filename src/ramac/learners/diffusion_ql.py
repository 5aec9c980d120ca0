"""Diffusion-QL (Wang, Hunt & Zhou, ICLR 2023), faithful to its reference code
(``Zhendong-Wang/Diffusion-Policies-for-Offline-RL`` @ d871f5c, ``agents/ql_diffusion.py``).

One iteration, in the reference's order (``Diffusion_QL.train``):

1. critic: ``a' ~ π_EMA(·|s')`` (full reverse chain; with ``max_q_backup``, the max over 10 samples per target
   critic), ``y = r + γ (1 − d) min(Q̄₁, Q̄₂)(s', a')``; loss ``MSE(Q₁, y) + MSE(Q₂, y)``; one clip over both
   critics; one Adam step;
2. actor: ``L = L_BC + η · L_Q`` with ``ã ~ π_θ(·|s)`` through the chain and
   ``L_Q = −mean Q₁(s, ã) / stopgrad(mean |Q₂(s, ã)|)`` or the same with the critics swapped, by a fair coin;
3. EMA of the actor every ``ema_every`` iterations from ``ema_start_iteration``; Polyak update of the critics.

Acting (``sample_action``): ``eval_candidates`` actions from the online actor, one drawn from
``softmax(min(Q̄₁, Q̄₂))`` of the target critics; ``eval_rule="single"`` draws one action.

Deviations (named): the reference's cosine learning-rate decay (``--lr_decay``) is stepped once per 50k
iterations over 2000 "epochs" and ends at 0.996 of its start, so it is left out; the critics in the actor loss are
evaluated with detached weights (the reference backpropagates into them and then zeroes those gradients: the same
update); random draws come from the per-iteration generator.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import Tensor

from ramac.actors.diffusion import DiffusionActor
from ramac.critics.q import TwinQCritic
from ramac.generative.ddpm import BetaSchedule
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.objectives.td import mse_td_loss, normalized_q_loss, td_target
from ramac.training.averaging import soft_update_
from ramac.types import Batch


class DiffusionQL(OfflineLearner):
    """Diffusion-QL. Defaults are the reference's (``main.py``) with its hopper-medium-expert row (η 1, gn 5).

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        discount, target_update_rate: ``γ`` and the Polyak rate ``τ``.
        q_weight: ``η``, the weight of the normalised Q term.
        max_q_backup, max_q_backup_samples: the reference's max-Q backup (off for the D4RL locomotion tasks).
        diffusion_steps, beta_schedule, actor_hidden_dim, clip_denoised, actor_input_scale: the diffusion actor
            (the same as RADAC's).
        critic_hidden_dim: width of the 3-layer Mish critics.
        actor_lr, critic_lr: Adam learning rates (the reference fixes the critic's to 3e-4).
        max_grad_norm: ``gn``, the clip of the actor's and of the critics' gradient norms; 0 disables.
        ema_decay, ema_every, ema_start_iteration: the EMA actor used for target actions.
        eval_rule, eval_candidates: acting rule (see module docstring).
        seed: see :class:`OfflineLearner`.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        max_action: float = 1.0,
        discount: float = 0.99,
        target_update_rate: float = 0.005,
        q_weight: float = 1.0,
        max_q_backup: bool = False,
        max_q_backup_samples: int = 10,
        diffusion_steps: int = 5,
        beta_schedule: BetaSchedule = "vp",
        actor_hidden_dim: int = 256,
        clip_denoised: bool = True,
        actor_input_scale: float = 1.0,
        critic_hidden_dim: int = 256,
        actor_lr: float = 3e-4,
        critic_lr: float = 3e-4,
        max_grad_norm: float = 5.0,
        ema_decay: float = 0.995,
        ema_every: int = 5,
        ema_start_iteration: int = 1000,
        eval_rule: Literal["softmax_q", "single"] = "softmax_q",
        eval_candidates: int = 50,
        seed: int = 0,
    ) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_positive("DiffusionQL", discount=discount, target_update_rate=target_update_rate, actor_lr=actor_lr,
                       critic_lr=critic_lr, ema_every=ema_every, eval_candidates=eval_candidates,
                       max_q_backup_samples=max_q_backup_samples)
        check_non_negative("DiffusionQL", q_weight=q_weight, max_grad_norm=max_grad_norm,
                           ema_start_iteration=ema_start_iteration)
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"DiffusionQL: ema_decay must be in [0, 1), got {ema_decay}")
        if eval_rule not in ("softmax_q", "single"):
            raise ValueError(f"DiffusionQL: eval_rule must be 'softmax_q' or 'single', got {eval_rule!r}")
        self.actor = DiffusionActor(obs_dim, action_dim, max_action, diffusion_steps, beta_schedule,
                                    actor_hidden_dim, clip_denoised=clip_denoised, input_scale=actor_input_scale)
        self.actor_ema = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = TwinQCritic(obs_dim, action_dim, critic_hidden_dim, hidden_layers=3, activation="mish")
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        fused = self.device.type in ("cpu", "cuda")
        return [torch.optim.Adam(self.critic.parameters(), lr=self.hparams.critic_lr, fused=fused),
                torch.optim.Adam(self.actor.parameters(), lr=self.hparams.actor_lr, fused=fused)]

    def target_actions(self, next_obs: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """EMA-actor actions at ``s'`` (``max_q_backup``: ``S`` per state, repeated states alongside)."""
        if not self.hparams.max_q_backup:
            return next_obs, self.actor_ema.sample(next_obs, generator)
        repeated = next_obs.repeat_interleave(self.hparams.max_q_backup_samples, 0)  # [B·S, O]
        return repeated, self.actor_ema.sample(repeated, generator)

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        critic_opt, actor_opt = self.optimizers()
        obs, actions = batch.observations, batch.actions

        # Critic: clipped double-Q target from the EMA actor.
        with torch.no_grad():
            next_obs, next_actions = self.target_actions(batch.next_observations, generator)
            next_q = self.critic_target(next_obs, next_actions)  # [E, B] or [E, B·S]
            if hp.max_q_backup:
                next_q = next_q.view(next_q.shape[0], obs.shape[0], -1).amax(-1)  # max per target critic
            target = td_target(batch.rewards, batch.terminals, next_q.float(), hp.discount)  # [B]
        q = self.critic(obs, actions).float()  # [E, B]
        critic_losses = mse_td_loss(q, target)  # [E]
        critic_norm = self.optimize(critic_opt, critic_losses.sum(), self.critic, max_norm=hp.max_grad_norm)

        # Actor: BC + η · normalised Q of one critic over the other, chosen by a fair coin.
        bc_loss = self.actor.bc_loss(obs, actions, generator)
        policy_q = self.critic(obs, self.actor.sample(obs, generator), detach_params=True).float()  # [E, B]
        first = torch.rand((), generator=generator, device=obs.device) > 0.5
        q_loss = torch.where(first, normalized_q_loss(policy_q[0], policy_q[1]),
                             normalized_q_loss(policy_q[1], policy_q[0]))
        actor_loss = bc_loss + hp.q_weight * q_loss
        actor_norm = self.optimize(actor_opt, actor_loss, self.actor, max_norm=hp.max_grad_norm, counted=True)

        # Targets.
        if self.iteration >= hp.ema_start_iteration and self.iteration % hp.ema_every == 0:
            soft_update_(self.actor_ema, self.actor, 1.0 - hp.ema_decay)
        soft_update_(self.critic_target, self.critic, hp.target_update_rate)

        return {
            "train/critic/loss": critic_losses.detach().mean(),
            "train/critic/q_mean": q.detach().mean(),
            "train/critic/target_mean": target.mean(),
            "train/critic/grad_norm": critic_norm,
            "train/actor/loss": actor_loss.detach(),
            "train/actor/bc_loss": bc_loss.detach(),
            "train/actor/q_loss": q_loss.detach(),
            "train/actor/grad_norm": actor_norm,
        }

    def bc_reference(self) -> BCReference:
        return BCReference(self.actor, self.hparams.actor_lr, self.hparams.max_grad_norm)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        obs = self.obs_normalizer(obs)
        if self.hparams.eval_rule == "single":
            return self.actor.sample(obs, generator)
        count = self.hparams.eval_candidates
        repeated = obs.repeat_interleave(count, 0)  # [V·C, O]
        candidates = self.actor.sample(repeated, generator)  # [V·C, A]
        q = self.critic_target(repeated, candidates).amin(0).view(obs.shape[0], count).float()  # [V, C]
        pick = torch.multinomial(torch.softmax(q, -1), 1, generator=generator).squeeze(-1)  # [V]
        return candidates.view(obs.shape[0], count, -1)[torch.arange(obs.shape[0], device=obs.device), pick]
