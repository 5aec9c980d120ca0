"""RAFMAC, **our corrected version**: RAMAC's flow-matching instantiation (arXiv 2510.02695) with the structure of
FQL (a BC flow teacher distilled into a one-step student) and RAMAC's objective on the student.

Why not the released ``agents/rafmac.py``: as released it never bootstraps (``bandit: true`` in every task
config: the critic target is ``clamp(r, −1, 1)``), trains the student on a *mean* over uniform levels (no CVaR),
gives the student neither BC nor distillation, and evaluates the BC-only teacher, so its numbers are flow-BC's.
Why the one-step structure and not the risk gradient through a 10-step Euler path: it is what the released code
builds (teacher + ``OneStepMLP``), the student acts in one call, and the policy the risk term trains is the one
evaluated (FQL's argument for distillation: backpropagating through the ODE solver is costly and unstable).

One iteration:

1. critic: twin IQN, exactly RADAC's (levels ``τ, τ' ~ U(0, 1)``, quantile-Huber with the standard pairing,
   element-wise min of the target twins, optional target clip, per-critic clipping); target actions
   ``a' = clip(μ_ω(s', z'))`` from the current student without gradient (as FQL);
2. actor (teacher and student, one Adam): ``L = bc_weight · L_FM + distill_weight · L_D − w(i) · ĈVaR``, with
   ``ĈVaR = mean_{b,k} min_e Z_e(s, clip(μ_ω(s, z)); α u_k)``, ``u_k ~ U(0, 1)``, read with the critic weights
   detached, optionally divided by ``stopgrad(mean |Z|)`` (``normalize_risk``, FQL-style); ``w(i)`` is RADAC's
   warm-up schedule;
3. Polyak update of the target critics.

Acting: the student, ``clip(μ_ω(s, z))`` with fresh noise. The released behaviour is not offered as an option:
nothing in it is RAFMAC as the paper describes it (README "Algorithms").
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from ramac.actors.flow import FlowActor, OneStepActor
from ramac.critics.iqn import TwinIQNCritic
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.learners.distributional import iqn_td_loss, risk_at, sample_levels
from ramac.nn.mlp import Activation
from ramac.objectives.distributional import QuantilePairing
from ramac.objectives.risk import Distortion, check_distortion, risk_value, scheduled_risk_weight
from ramac.training.averaging import soft_update_
from ramac.types import Batch


class RAFMAC(OfflineLearner):
    """RAFMAC (ours, corrected; module docstring). Critic defaults are RADAC's (the released hopper-medium-expert
    row); actor defaults are ours: teacher and student 3 × 256 Mish (the scale of RADAC's denoiser), ``t`` a raw
    scalar input, 10 Euler steps, risk normalised with ``risk_weight`` 1 (FQL's normalised Q term).

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        n_quantiles, n_target_quantiles, n_risk_quantiles, critic_embedding_dim, critic_hidden_dim, discount,
            target_update_rate, target_clip, huber_kappa, quantile_pairing: the critic, as in RADAC.
        flow_steps, actor_hidden_dim, actor_hidden_layers, actor_activation: teacher and student.
        actor_input_scale: factor on ``x`` at the teacher's input (see ``FlowActor``).
        bc_weight, distill_weight: weights of the teacher's flow loss and of the distillation.
        risk_weight, distortion, cvar_alpha, distortion_param, normalize_risk: the risk term.
        risk_warmup_iterations, risk_ramp_iterations: its schedule.
        actor_lr, critic_lr, max_grad_norm: Adam learning rates and the gradient clip (0 disables).
        seed: see :class:`OfflineLearner`.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        max_action: float = 1.0,
        n_quantiles: int = 16,
        n_target_quantiles: int | None = None,
        n_risk_quantiles: int | None = None,
        critic_embedding_dim: int = 64,
        critic_hidden_dim: int = 256,
        discount: float = 0.99,
        target_update_rate: float = 0.005,
        target_clip: tuple[float, float] | None = (-300.0, 300.0),
        huber_kappa: float = 1.0,
        quantile_pairing: QuantilePairing = "standard",
        flow_steps: int = 10,
        actor_hidden_dim: int = 256,
        actor_hidden_layers: int = 3,
        actor_activation: Activation = "mish",
        actor_input_scale: float = 1.0,
        bc_weight: float = 1.0,
        distill_weight: float = 1.0,
        risk_weight: float = 1.0,
        distortion: Distortion = "cvar",
        cvar_alpha: float = 0.1,
        distortion_param: float | None = None,
        normalize_risk: bool = True,
        risk_warmup_iterations: int = 0,
        risk_ramp_iterations: int = 0,
        actor_lr: float = 3e-4,
        critic_lr: float = 1e-5,
        max_grad_norm: float = 5.0,
        seed: int = 0,
    ) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_distortion(distortion, cvar_alpha, distortion_param)
        check_positive("RAFMAC", n_quantiles=n_quantiles, discount=discount, target_update_rate=target_update_rate,
                       huber_kappa=huber_kappa, actor_lr=actor_lr, critic_lr=critic_lr, flow_steps=flow_steps)
        check_non_negative("RAFMAC", bc_weight=bc_weight, distill_weight=distill_weight, risk_weight=risk_weight,
                           max_grad_norm=max_grad_norm, risk_warmup_iterations=risk_warmup_iterations,
                           risk_ramp_iterations=risk_ramp_iterations)
        if target_clip is not None and not target_clip[0] < target_clip[1]:
            raise ValueError(f"RAFMAC: target_clip must be (low, high) with low < high, got {target_clip}")
        self.n_target_quantiles = n_target_quantiles or n_quantiles
        self.n_risk_quantiles = n_risk_quantiles or n_quantiles
        actor_net = dict(hidden_dim=actor_hidden_dim, hidden_layers=actor_hidden_layers, activation=actor_activation,
                         xavier_init=False)
        self.flow_actor = FlowActor(obs_dim, action_dim, max_action, flow_steps, input_scale=actor_input_scale,
                                    **actor_net)
        self.actor = OneStepActor(obs_dim, action_dim, max_action, **actor_net)
        self.critic = TwinIQNCritic(obs_dim, action_dim, n_quantiles, critic_embedding_dim, critic_hidden_dim)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        fused = self.device.type in ("cpu", "cuda")
        critic_opt = torch.optim.Adam(self.critic.parameters(), lr=self.hparams.critic_lr, fused=fused)
        actor_opt = torch.optim.Adam([*self.flow_actor.parameters(), *self.actor.parameters()],
                                     lr=self.hparams.actor_lr, fused=fused)
        return [critic_opt, actor_opt]

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        critic_opt, actor_opt = self.optimizers()
        obs, actions = batch.observations, batch.actions
        taus, target_taus, risk_taus = sample_levels(generator, obs.device, hp.n_quantiles, self.n_target_quantiles,
                                                     self.n_risk_quantiles, hp.distortion, hp.cvar_alpha,
                                                     hp.distortion_param)

        # Critic: distributional TD with the student's next actions and the element-wise min of the target twins.
        with torch.no_grad():
            next_actions = self.actor.sample(batch.next_observations, generator)  # [B, A]
        critic_losses, z, target = iqn_td_loss(self.critic, self.critic_target, batch, next_actions, taus,
                                               target_taus, hp.discount, hp.target_clip, hp.huber_kappa,
                                               hp.quantile_pairing)  # [E], [E, B, N], [B, M]
        critic_norms = self.optimize(critic_opt, critic_losses.sum(), self.critic, max_norm=hp.max_grad_norm,
                                     ensemble_size=self.critic.ensemble_size)  # [E]

        # Teacher: flow matching on the dataset actions.
        flow_loss = self.flow_actor.bc_loss(obs, actions, generator)
        # Student: distillation from the teacher with the same noise, and the risk of its clipped action.
        distill_loss, clipped = self.actor.distill(self.flow_actor, obs, generator)
        weight = scheduled_risk_weight(self.iteration, hp.risk_weight, hp.risk_warmup_iterations,
                                       hp.risk_ramp_iterations)
        actor_loss = hp.bc_weight * flow_loss + hp.distill_weight * distill_loss
        risk = None
        if weight > 0 or self.logs_this_iteration():  # skipped in warm-up (weight 0) except to log its value
            with torch.set_grad_enabled(weight > 0 and torch.is_grad_enabled()):
                risk_z = self.critic(obs, clipped, risk_taus, detach_params=True).float()  # [E, B, K]
                risk = risk_value(risk_z)
            if weight > 0:
                risk_term = risk / risk_z.amin(0).abs().mean().detach() if hp.normalize_risk else risk
                actor_loss = actor_loss - weight * risk_term
        actor_norm = self.optimize(actor_opt, actor_loss, [self.flow_actor, self.actor], max_norm=hp.max_grad_norm,
                                   counted=True)

        # Targets.
        soft_update_(self.critic_target, self.critic, hp.target_update_rate)
        metrics = {
            "train/critic/loss": critic_losses.detach().mean(),
            "train/critic/z_mean": z.detach().mean(),
            "train/critic/target_mean": target.mean(),
            "train/critic/grad_norm": critic_norms.max(),
            "train/actor/loss": actor_loss.detach(),
            "train/actor/flow_loss": flow_loss.detach(),
            "train/actor/distill_loss": distill_loss.detach(),
            "train/actor/risk_weight": torch.tensor(weight),
            "train/actor/grad_norm": actor_norm,
        }
        if risk is not None:
            metrics["train/actor/risk"] = risk.detach()
        if self.logs_this_iteration():
            metrics["train/critic/risk_at_data"] = risk_at(self.critic, obs, actions, risk_taus)
        return metrics

    def bc_reference(self) -> BCReference:
        return BCReference(self.flow_actor, self.hparams.actor_lr, self.hparams.max_grad_norm, self.hparams.bc_weight)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        return self.actor.sample(self.obs_normalizer(obs), generator)
