"""ORAAC: offline risk-averse actor-critic (Urpí, Curi, Krause, ICLR 2021), and its variants with a diffusion or a
flow-matching prior (RAMAC's ORAAC-Diff. and ORAAC-Flow; the variants are our reading of the paper, see below).

Ported from O-RAAC (``nuria95/O-RAAC`` @ HEAD, ``oraaclib/agent/ORAAC.py`` ``train``, l.95-149). One iteration, in
that order:

1. prior: one step of its behaviour-cloning loss (the VAE's negative ELBO), until the VAE's freeze rule fires;
2. critic: levels ``τ, τ' ~ U(0, 1)^N``; next action ``a' = π̄(s', b')`` with the anchor ``b' ~ p_β(·|s')`` and
   the *target* perturbation actor; target ``y_j = r + γ (1 − d) Z̄(s', a'; τ'_j)`` from the single target critic;
   quantile-Huber loss averaged over every index (O-RAAC ``losses.py``), one Adam step, no clipping;
3. every ``policy_update_every`` iterations: actor ``a = π(s, b)``, ``b ~ p_β(·|s)`` without gradient, loss
   ``−(1/(B K)) Σ Z(s, a; g(u_k))`` with ``K`` distorted levels (CVaR: ``u ~ U(0, α)``); then Polyak updates of the
   target critic and the target actor.

The prior receives no actor or critic gradient: its anchors are drawn under ``no_grad`` (O-RAAC ``.detach()``).

Deviations from O-RAAC, each with the option that restores it where one exists:

- next observations are the dataset's ``next_observations``; O-RAAC's loader pairs ``observations[i + 1]`` and so,
  at episode ends, a state with the next episode's first state (``experience_replay.py`` l.430-431): a bug, not
  restored;
- levels come from ramac's per-iteration generator; the VAE freeze rule reads the loss averaged over DDP ranks.

ORAAC-Diff. / ORAAC-Flow (``prior="diffusion"`` / ``"flow"``; ours, README "Algorithms"): the VAE is replaced by a
diffusion or flow-matching BC model trained jointly from step 0 with its own Adam, never frozen; everything else
is ORAAC's, so that the comparison isolates the prior. The paper describes them only as prior-anchored
perturbation with an expressive prior; the code was not released.
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
from torch import Tensor

from ramac.actors.diffusion import DiffusionActor
from ramac.actors.flow import FlowActor
from ramac.actors.perturbation import PerturbationActor
from ramac.actors.vae import ConditionalVAE
from ramac.critics.iqn import TwinIQNCritic
from ramac.generative.ddpm import BetaSchedule
from ramac.learners.base import BCReference, OfflineLearner, check_positive
from ramac.learners.distributional import iqn_td_loss, sample_levels
from ramac.objectives.risk import Distortion, check_distortion
from ramac.training.averaging import soft_update_
from ramac.types import Batch

Prior = Literal["vae", "diffusion", "flow"]

# O-RAAC's VAE freeze rule (ORAAC.py l.110-122): from iteration 10k the VAE loss is recorded every 100 iterations;
# once more than 50 are recorded, a check passes when the last 50 span at most 0.03; after 10 passing checks in a
# row the VAE is frozen for the rest of training.
FREEZE_START, FREEZE_EVERY, FREEZE_WINDOW, FREEZE_SPAN, FREEZE_PATIENCE = 10_000, 100, 50, 0.03, 10


class ORAAC(OfflineLearner):
    """ORAAC and its generative-prior variants. Defaults: the values O-RAAC's walker2d and halfcheetah "expert"
    JSONs share (``json_params/ORAAC``; ``conf/algos/oraac/<task>.yaml`` sets what differs per task, with sources)
    and RAMAC's discount 0.99.

    Args:
        obs_dim, action_dim, max_action: set from the data.
        prior: ``vae`` (ORAAC), ``diffusion`` (ORAAC-Diff.) or ``flow`` (ORAAC-Flow).
        prior_hidden_dim: the prior's width (default: 750 for the VAE, O-RAAC; 256 for the diffusion and flow
            priors, RADAC's actor and RAFMAC's teacher).
        prior_lr: the prior's Adam learning rate (default: 1e-3 for the VAE, torch's default that O-RAAC uses;
            3e-4 for the generative priors, RADAC's actor lr).
        prior_freeze: apply the VAE freeze rule (default: on for the VAE, off for the generative priors).
        diffusion_steps, beta_schedule: the diffusion prior (RADAC's: 5, vp).
        flow_steps: Euler steps of the flow prior (FQL/RAFMAC: 10).
        prior_input_scale: factor on the noisy action at the diffusion or flow network's input (1: released).
        perturbation_scale: ``λ`` (O-RAAC ``lamda``): the actor moves the anchor by at most ``λ · max_action``.
        actor_hidden_dims: the perturbation network (O-RAAC: 400, 300).
        critic_hidden_dim: state and action branch width ``H`` (O-RAAC ``HIDDEN_UNITS_STATE/ACTION``).
        critic_embedding_dim: ``D`` (``EMBEDDING_DIM``); critic_head_dim: ``F`` (``HIDDEN_UNITS_F``).
        cosine_features: ``C`` (``TAU_EMBEDDING_DIM``).
        n_quantiles: ``N`` online and target levels (``N_QUANTILES_CRITIC``).
        n_risk_quantiles: ``K`` distorted levels of the actor loss (``N_QUANTILES_POLICY``).
        distortion, cvar_alpha, distortion_param: the risk measure (O-RAAC's Wang uses ``η = −0.75``).
        discount: ``γ``; target_update_rate: Polyak rate of both targets (``TARGET_UPDATE_TAU``).
        policy_update_every: the actor and the targets step every this many iterations (``TARGET_UPDATE_FREQUENCY``).
        huber_kappa: ``κ`` of the quantile-Huber loss.
        actor_lr, critic_lr: Adam learning rates (``LEARNING_RATE_ACTOR/CRITIC``).
        eval_latent: the VAE latent of :meth:`act`: ``random`` (a clipped draw, as O-RAAC's training-time
            evaluations) or ``zero`` (O-RAAC's evaluation of a saved model); the generative priors have only ``random``.
        seed: see :class:`OfflineLearner`.
    """

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        max_action: float = 1.0,
        prior: Prior = "vae",
        prior_hidden_dim: int | None = None,
        prior_lr: float | None = None,
        prior_freeze: bool | None = None,
        diffusion_steps: int = 5,
        beta_schedule: BetaSchedule = "vp",
        flow_steps: int = 10,
        prior_input_scale: float = 1.0,
        perturbation_scale: float = 0.25,
        actor_hidden_dims: tuple[int, int] = (400, 300),
        critic_hidden_dim: int = 256,
        critic_embedding_dim: int = 16,
        critic_head_dim: int = 32,
        cosine_features: int = 16,
        n_quantiles: int = 32,
        n_risk_quantiles: int = 8,
        distortion: Distortion = "cvar",
        cvar_alpha: float = 0.1,
        distortion_param: float | None = None,
        discount: float = 0.99,
        target_update_rate: float = 0.005,
        policy_update_every: int = 2,
        huber_kappa: float = 1.0,
        actor_lr: float = 1e-4,
        critic_lr: float = 1e-3,
        eval_latent: Literal["random", "zero"] = "random",
        seed: int = 0,
    ) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_distortion(distortion, cvar_alpha, distortion_param)
        check_positive("ORAAC", n_quantiles=n_quantiles, n_risk_quantiles=n_risk_quantiles, discount=discount,
                       target_update_rate=target_update_rate, policy_update_every=policy_update_every,
                       huber_kappa=huber_kappa, actor_lr=actor_lr, critic_lr=critic_lr)
        if eval_latent not in ("random", "zero") or (eval_latent == "zero" and prior != "vae"):
            raise ValueError(f"ORAAC: eval_latent must be 'random', or 'zero' with prior 'vae'; got {eval_latent!r} "
                             f"with prior {prior!r}")
        generative = prior in ("diffusion", "flow")
        hidden = prior_hidden_dim or (256 if generative else 750)
        self.prior_lr = prior_lr or (3e-4 if generative else 1e-3)
        self.prior_freeze = (not generative) if prior_freeze is None else prior_freeze
        check_positive("ORAAC", prior_lr=self.prior_lr)
        if prior == "vae":
            self.prior = ConditionalVAE(obs_dim, action_dim, max_action, hidden)
        elif prior == "diffusion":
            self.prior = DiffusionActor(obs_dim, action_dim, max_action, diffusion_steps, beta_schedule, hidden,
                                        input_scale=prior_input_scale)
        elif prior == "flow":
            self.prior = FlowActor(obs_dim, action_dim, max_action, flow_steps, hidden, hidden_layers=3,
                                   activation="mish", xavier_init=False, input_scale=prior_input_scale)
        else:
            raise ValueError(f"ORAAC: prior must be 'vae', 'diffusion' or 'flow', got {prior!r}")
        self.actor = PerturbationActor(obs_dim, action_dim, max_action, perturbation_scale, actor_hidden_dims)
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = TwinIQNCritic(obs_dim, action_dim, cosine_features, critic_embedding_dim, critic_hidden_dim,
                                    ensemble_size=1, head_hidden_dim=critic_head_dim)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        # The freeze rule's state, saved with the model so that a resumed run freezes when the straight one does.
        self.register_buffer("prior_losses", torch.zeros(FREEZE_WINDOW))  # the last records, a ring
        self.register_buffer("prior_records", torch.zeros((), dtype=torch.long))
        self.register_buffer("prior_stable_checks", torch.zeros((), dtype=torch.long))
        self.register_buffer("prior_frozen", torch.zeros((), dtype=torch.bool))

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        hp, fused = self.hparams, self.device.type in ("cpu", "cuda")
        return [torch.optim.Adam(self.prior.parameters(), lr=self.prior_lr, fused=fused),
                torch.optim.Adam(self.critic.parameters(), lr=hp.critic_lr, fused=fused),
                torch.optim.Adam(self.actor.parameters(), lr=hp.actor_lr, fused=fused)]

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        prior_opt, critic_opt, actor_opt = self.optimizers()
        obs = batch.observations
        metrics: dict[str, Tensor] = {}

        # Prior: behaviour cloning, jointly with the rest, until frozen.
        if not bool(self.prior_frozen):
            prior_loss = self.prior.bc_loss(obs, batch.actions, generator)
            self._freeze_rule(prior_loss.detach())
            metrics["train/prior/bc_loss"] = prior_loss.detach()
            metrics["train/prior/grad_norm"] = self.optimize(prior_opt, prior_loss, self.prior)

        # Critic: quantile TD with the target actor around a fresh anchor at s'.
        taus, target_taus, risk_levels = sample_levels(generator, obs.device, hp.n_quantiles, hp.n_quantiles,
                                                       hp.n_risk_quantiles, hp.distortion, hp.cvar_alpha,
                                                       hp.distortion_param)
        with torch.no_grad():
            next_anchors = self.prior.sample(batch.next_observations, generator)
            next_actions = self.actor_target(batch.next_observations, next_anchors)  # [B, A]
        critic_losses, z, target = iqn_td_loss(self.critic, self.critic_target, batch, next_actions, taus,
                                               target_taus, hp.discount, None, hp.huber_kappa, "standard",
                                               level_reduction="mean")  # [1], [1, B, N], [B, N]
        critic_norm = self.optimize(critic_opt, critic_losses.sum(), self.critic, counted=True)
        metrics.update({"train/critic/loss": critic_losses.detach().sum(), "train/critic/z_mean": z.detach().mean(),
                        "train/critic/target_mean": target.mean(), "train/critic/grad_norm": critic_norm,
                        "train/prior/frozen": self.prior_frozen.float()})

        # Actor and targets, every `policy_update_every` iterations (O-RAAC counts iterations from 1).
        if (self.iteration + 1) % hp.policy_update_every == 0:
            with torch.no_grad():
                anchors = self.prior.sample(obs, generator)
            policy_actions = self.actor(obs, anchors)
            risk = self.critic(obs, policy_actions, risk_levels, detach_params=True).float().mean()
            actor_loss = -risk
            metrics["train/actor/grad_norm"] = self.optimize(actor_opt, actor_loss, self.actor)
            metrics["train/actor/risk"] = risk.detach()
            metrics["train/actor/perturbation"] = (policy_actions - anchors).detach().abs().amax(-1).mean()
            soft_update_(self.critic_target, self.critic, hp.target_update_rate)
            soft_update_(self.actor_target, self.actor, hp.target_update_rate)
        return metrics

    def _freeze_rule(self, loss: Tensor) -> None:
        """O-RAAC's VAE freeze rule (see ``FREEZE_*``) on the loss of iteration ``self.iteration + 1``."""
        step = self.iteration + 1  # O-RAAC's num_train_steps at this point
        if not self.prior_freeze or step <= FREEZE_START or step % FREEZE_EVERY:
            return
        if self._trainer is not None and self.trainer.world_size > 1:
            loss = self.trainer.strategy.reduce(loss, reduce_op="mean")
        self.prior_losses[int(self.prior_records) % FREEZE_WINDOW] = loss
        self.prior_records += 1
        if int(self.prior_records) > FREEZE_WINDOW:
            stable = float(self.prior_losses.max() - self.prior_losses.min()) <= FREEZE_SPAN
            self.prior_stable_checks.copy_(self.prior_stable_checks + 1 if stable else torch.zeros_like(
                self.prior_stable_checks))
        if int(self.prior_stable_checks) >= FREEZE_PATIENCE:
            self.prior_frozen.fill_(True)

    def bc_reference(self) -> BCReference:
        return BCReference(self.prior, self.prior_lr, 0.0)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        obs = self.obs_normalizer(obs)
        if self.hparams.eval_latent == "zero":
            anchors = self.prior.actions_from_noise(obs, obs.new_zeros(obs.shape[0], self.prior.latent_dim))
        else:
            anchors = self.prior.sample(obs, generator)
        return self.actor(obs, anchors)
