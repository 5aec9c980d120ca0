"""FQL: flow Q-learning (Park, Li & Levine, 2025), ported from its JAX reference (``seohongpark/fql`` @ 719d044,
``agents/fql.py``).

One iteration (``FQLAgent.total_loss``), every term on one batch, one Adam step over all networks:

1. critic: ``a' = clip(μ_ω(s', z'))`` from the *one-step* policy, ``y = r + γ (1 − d) agg(Q̄₁, Q̄₂)(s', a')``
   (``agg``: mean by default, or min), loss ``mean_{e,b} (Q_e(s, a) − y)²``;
2. BC flow: ``L_FM = mean ||v_θ(s, x_t, t) − (a − x_0)||²`` on the linear path;
3. distillation: ``L_D = mean ||μ_ω(s, z) − a_T||²`` with ``a_T = clip(Euler_K(v_θ; s, z))`` (no gradient);
4. Q: ``L_Q = −mean_e mean Q_e(s, clip(μ_ω(s, z)))``, times ``stopgrad(1 / mean |Q|)`` with ``normalize_q_loss``;
5. ``L = L_critic + L_FM + α L_D + L_Q``; one step; Polyak update of the target critics.

Acting: ``clip(μ_ω(s, z))`` with fresh noise (``sample_actions``). Gradients stay separate as in the reference: the
critic's target uses the policy without gradient, the actor's Q term reads the critic with detached weights.
The networks are the reference's: MLPs of 4 × 512 GELU with Xavier-uniform init, LayerNorm in the critics only.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ramac.actors.flow import FlowActor, OneStepActor
from ramac.critics.q import TwinQCritic
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.objectives.td import Aggregate, mse_td_loss, td_target
from ramac.training.averaging import soft_update_
from ramac.types import Batch


class FQL(OfflineLearner):
    """FQL. Defaults are the reference's ``get_config()``.

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        alpha: ``α``, the weight of the distillation loss ("needs to be tuned for each environment").
        flow_steps: ``K`` Euler steps of the BC flow.
        normalize_q_loss: divide the Q term by ``stopgrad(mean |Q|)``.
        q_aggregate: ``mean`` or ``min`` over the target critics.
        hidden_dim, hidden_layers: the width and depth of every network.
        flow_input_scale: factor on ``x`` at the BC flow's input (1 = the reference; see ``FlowActor``).
        discount, target_update_rate: ``γ`` and ``τ``.
        lr: the learning rate of the single Adam.
        seed: see :class:`OfflineLearner`.
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, alpha: float = 10.0,
                 flow_steps: int = 10, normalize_q_loss: bool = False, q_aggregate: Aggregate = "mean",
                 hidden_dim: int = 512, hidden_layers: int = 4, flow_input_scale: float = 1.0, discount: float = 0.99,
                 target_update_rate: float = 0.005, lr: float = 3e-4, seed: int = 0) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_positive("FQL", flow_steps=flow_steps, discount=discount, target_update_rate=target_update_rate, lr=lr)
        check_non_negative("FQL", alpha=alpha)
        if q_aggregate not in ("mean", "min"):
            raise ValueError(f"FQL: q_aggregate must be 'mean' or 'min', got {q_aggregate!r}")
        self.flow_actor = FlowActor(obs_dim, action_dim, max_action, flow_steps, hidden_dim, hidden_layers,
                                    input_scale=flow_input_scale)
        self.actor = OneStepActor(obs_dim, action_dim, max_action, hidden_dim, hidden_layers)
        self.critic = TwinQCritic(obs_dim, action_dim, hidden_dim, hidden_layers, activation="gelu", layer_norm=True,
                                  xavier_init=True)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [*self.critic.parameters(), *self.flow_actor.parameters(), *self.actor.parameters()]
        return torch.optim.Adam(params, lr=self.hparams.lr, fused=self.device.type in ("cpu", "cuda"))

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        optimizer = self.optimizers()
        obs, actions = batch.observations, batch.actions

        # Critic loss: the one-step policy's next actions, mean (or min) of the target critics.
        with torch.no_grad():
            next_q = self.critic_target(batch.next_observations, self.actor.sample(batch.next_observations, generator))
            target = td_target(batch.rewards, batch.terminals, next_q.float(), hp.discount, hp.q_aggregate)  # [B]
        q = self.critic(obs, actions).float()  # [E, B]
        critic_loss = mse_td_loss(q, target).mean()  # the mean over members and batch, as the reference

        # BC flow loss.
        flow_loss = self.flow_actor.bc_loss(obs, actions, generator)

        # Distillation loss: the one-step policy and the flow see the same noise.
        distill_loss, clipped = self.actor.distill(self.flow_actor, obs, generator)

        # Q loss, on the clipped one-step action; critic weights detached.
        policy_q = self.critic(obs, clipped, detach_params=True).float().mean(0)  # [B]
        q_loss = -policy_q.mean()
        if hp.normalize_q_loss:
            q_loss = q_loss / policy_q.abs().mean().detach()

        # Total loss: one Adam step over all networks.
        loss = critic_loss + flow_loss + hp.alpha * distill_loss + q_loss
        norm = self.optimize(optimizer, loss, [self.critic, self.flow_actor, self.actor], counted=True)
        soft_update_(self.critic_target, self.critic, hp.target_update_rate)
        return {
            "train/critic/loss": critic_loss.detach(),
            "train/critic/q_mean": q.detach().mean(),
            "train/critic/target_mean": target.mean(),
            "train/actor/flow_loss": flow_loss.detach(),
            "train/actor/distill_loss": distill_loss.detach(),
            "train/actor/q_loss": q_loss.detach(),
            "train/grad_norm": norm,
        }

    def bc_reference(self) -> BCReference:
        return BCReference(self.flow_actor, self.hparams.lr, 0.0)  # the BC flow, FQL's behaviour model

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        return self.actor.sample(self.obs_normalizer(obs), generator)
