"""RADAC: RAMAC's diffusion actor with a twin distributional (IQN) critic (arXiv 2510.02695).

One iteration (paper Alg. 1 and Eqs. 10–12; released ``agents/radac.py``), in paper order:

1. levels ``tau ~ U(0,1)^N`` (online), ``tau' ~ U(0,1)^M`` (target), ``u ~ U(0,1)^K`` -> ``g(u)`` (risk);
2. target action ``a' ~ π_EMA(·|s')`` (full reverse chain, no gradient);
3. target ``y_j = clip(r + γ (1 - d) min_e Z_e^targ(s', a'; tau'_j))``;
4. critic: quantile-Huber loss for each critic, per-critic gradient clipping, one Adam step;
5. actor: ``a_π ~ π_θ(·|s)`` through every denoising step; ``L = bc_weight · L_BC +
   w(i) · (−risk)``, ``risk = mean_{b,k} min_e Z_e(s, a_π; g(u_k))`` with the updated online critics
   (their weights detached: the actor loss puts no gradient into the critic);
6. Polyak update of the target critics; EMA of the actor every ``ema_every`` iterations from
   ``ema_start_iteration``.

On logging iterations it also reports the critics' risk estimate at the batch's own actions
(``train/critic/risk_at_data``) beside ``train/actor/risk`` at the policy's: a risk term that exploits the critic
shows as the second far above the first (an extra forward pass without gradient or random draws).
"""

from __future__ import annotations

import copy
from typing import Literal, get_args

import torch
from torch import Tensor

from ramac.actors.diffusion import DiffusionActor
from ramac.critics.iqn import TwinIQNCritic
from ramac.generative.ddpm import BetaSchedule
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.learners.distributional import iqn_td_loss, risk_at, sample_levels
from ramac.objectives.distributional import QuantilePairing
from ramac.objectives.regularizers import mean_squared_distance
from ramac.objectives.risk import Distortion, check_distortion, risk_scale, risk_value, scheduled_risk_weight
from ramac.training.averaging import soft_update_
from ramac.types import Batch

#: what ``bc_weight`` multiplies after the risk warm-up (:mod:`ramac.objectives.regularizers`)
Regularizer = Literal["bc", "w2_coupling", "sample_l2"]


class RADAC(OfflineLearner):
    """Risk-Aware Diffusion Actor-Critic. Defaults are the released code's: ``main.py`` for the global
    values and the hopper-medium-expert row of ``configs/radac.yaml`` where values differ by task (the
    task configs in ``conf/`` set only what differs from that row; ``tests/learners/test_radac.py`` pins the defaults
    and ``tests/conf/test_compose.py`` every config's values).

    Args:
        obs_dim, action_dim: set from the data (linked by the CLI).
        max_action: action box bound (set from the data).
        n_quantiles: online quantile levels ``N`` per update (also the cosine features of the critic).
        n_target_quantiles: target levels ``M`` (default ``N``).
        n_risk_quantiles: distorted levels ``K`` of the risk estimate (default ``N``).
        critic_embedding_dim, critic_hidden_dim: IQN widths.
        discount: ``γ``.
        target_update_rate: Polyak rate of the target critics.
        target_clip: ``(low, high)`` clamp of the TD target, or ``None``.
        huber_kappa: ``κ`` of the quantile-Huber loss.
        quantile_pairing: ``standard`` (IQN) or ``released`` (reproduce the released code's pairing,
            which collapses the quantiles; README "Differences from the released code").
        diffusion_steps, beta_schedule, actor_hidden_dim, clip_denoised: diffusion actor.
        actor_input_scale: factor on ``x_t`` at the denoiser's input (1 = released code).
        bc_weight: weight of the behaviour regulariser (the BC loss by default).
        regularizer: the behaviour regulariser after the warm-up (from the first iteration after
            ``risk_warmup_iterations``, whatever the risk weight, 0 included: the regulariser alone; before it the
            denoising BC loss always trains the chain): ``bc`` (the
            denoising loss, a forward KL: the paper), ``w2_coupling`` (``mean_b ||π_θ(s; ξ) − π_ref(s; ξ)||²`` with
            the risk term's own noise ``ξ`` through a frozen behaviour-cloned chain: an upper bound on W₂² to it) or
            ``sample_l2`` (``mean_b ||π_θ(s; ξ) − a||²`` to the dataset action: a mean-seeking control);
            :mod:`ramac.objectives.regularizers`.
        regularizer_reference: ``w2_coupling``'s frozen chain: a checkpoint whose ``actor.*`` weights it takes
            (e.g. a BC-only run's ``last.ckpt``), or ``None``: the EMA actor at iteration ``risk_warmup_iterations``
            (the end of the BC-only warm-up).
        risk_weight: weight of ``−risk`` in the actor loss (after warm-up).
        normalize_risk: divide the risk term by the batch's mean ``|risk|`` (detached), as Diffusion-QL does its
            Q term; ``False`` is the paper and the released code (an adaptation, README "Results").
        distortion: ``cvar`` (paper), ``wang``, ``cpw``, ``power`` or ``neutral``.
        cvar_alpha: CVaR level.
        distortion_param: parameter of wang/cpw/power (defaults in :mod:`ramac.objectives.risk`).
        risk_warmup_iterations, risk_ramp_iterations: risk-weight schedule.
        ema_decay, ema_every, ema_start_iteration: EMA actor used for target actions.
        eval_actor: actor used by :meth:`act` (released code: the online actor).
        actor_lr, critic_lr: Adam learning rates.
        max_grad_norm: gradient-norm clip for the actor and for each critic; 0 disables.
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
        diffusion_steps: int = 5,
        beta_schedule: BetaSchedule = "vp",
        actor_hidden_dim: int = 256,
        clip_denoised: bool = True,
        actor_input_scale: float = 1.0,
        bc_weight: float = 1.0,
        regularizer: Regularizer = "bc",
        regularizer_reference: str | None = None,
        risk_weight: float = 0.05,
        normalize_risk: bool = False,
        distortion: Distortion = "cvar",
        cvar_alpha: float = 0.1,
        distortion_param: float | None = None,
        risk_warmup_iterations: int = 300_000,
        risk_ramp_iterations: int = 0,
        ema_decay: float = 0.995,
        ema_every: int = 5,
        ema_start_iteration: int = 1000,
        eval_actor: Literal["online", "ema"] = "online",
        actor_lr: float = 3e-4,
        critic_lr: float = 1e-5,
        max_grad_norm: float = 5.0,
        seed: int = 0,
    ) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_distortion(distortion, cvar_alpha, distortion_param)
        check_positive("RADAC", n_quantiles=n_quantiles, discount=discount, target_update_rate=target_update_rate,
                       huber_kappa=huber_kappa, actor_lr=actor_lr, critic_lr=critic_lr, ema_every=ema_every)
        check_non_negative("RADAC", bc_weight=bc_weight, risk_weight=risk_weight, max_grad_norm=max_grad_norm,
                           risk_warmup_iterations=risk_warmup_iterations, risk_ramp_iterations=risk_ramp_iterations)
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"RADAC: ema_decay must be in [0, 1), got {ema_decay}")
        if target_clip is not None and not target_clip[0] < target_clip[1]:
            raise ValueError(f"RADAC: target_clip must be (low, high) with low < high, got {target_clip}")
        if eval_actor not in ("online", "ema"):
            raise ValueError(f"RADAC: eval_actor must be 'online' or 'ema', got {eval_actor!r}")
        if regularizer not in get_args(Regularizer):
            raise ValueError(f"RADAC: regularizer must be one of {get_args(Regularizer)}, got {regularizer!r}")
        if regularizer_reference is not None and regularizer != "w2_coupling":
            raise ValueError("RADAC: regularizer_reference is only used with regularizer: w2_coupling")
        if regularizer == "w2_coupling" and regularizer_reference is None and risk_warmup_iterations == 0:
            raise ValueError("RADAC: regularizer w2_coupling needs a behaviour-cloned chain: a BC-only warm-up "
                             "(risk_warmup_iterations > 0) or a regularizer_reference checkpoint")
        self.n_target_quantiles = n_target_quantiles or n_quantiles
        self.n_risk_quantiles = n_risk_quantiles or n_quantiles

        self.actor = DiffusionActor(obs_dim, action_dim, max_action, diffusion_steps, beta_schedule,
                                    actor_hidden_dim, clip_denoised=clip_denoised,
                                    input_scale=actor_input_scale)
        self.actor_ema = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = TwinIQNCritic(obs_dim, action_dim, n_quantiles, critic_embedding_dim, critic_hidden_dim)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        if regularizer == "w2_coupling":  # the frozen behaviour-cloned chain (filled at the warm-up's end or loaded)
            self.actor_reference = copy.deepcopy(self.actor).requires_grad_(False)
            if regularizer_reference is not None:
                self._load_reference(regularizer_reference)

    def _load_reference(self, path: str) -> None:
        """``w2_coupling``'s frozen chain from the ``actor.*`` weights of the checkpoint at ``path``."""
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
        except (OSError, KeyError, RuntimeError) as error:
            raise ValueError(f"RADAC: regularizer_reference {path}: not a readable ramac checkpoint "
                             f"({error})") from None
        actor = {key.removeprefix("actor."): value for key, value in state.items() if key.startswith("actor.")}
        try:
            self.actor_reference.load_state_dict(actor)
        except RuntimeError as error:
            raise ValueError(f"RADAC: regularizer_reference {path}: its actor.* weights do not fit this actor "
                             f"({str(error).splitlines()[0]})") from None

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        # One Adam over both stacked critics equals the released code's two Adams (equal lrs,
        # elementwise updates). Fused kernels on CPU and CUDA.
        fused = self.device.type in ("cpu", "cuda")
        critic_opt = torch.optim.Adam(self.critic.parameters(), lr=self.hparams.critic_lr, fused=fused)
        actor_opt = torch.optim.Adam(self.actor.parameters(), lr=self.hparams.actor_lr, fused=fused)
        return [critic_opt, actor_opt]

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        hp = self.hparams
        critic_opt, actor_opt = self.optimizers()
        obs, actions = batch.observations, batch.actions
        taus, target_taus, risk_taus = sample_levels(generator, obs.device, hp.n_quantiles, self.n_target_quantiles,
                                                     self.n_risk_quantiles, hp.distortion, hp.cvar_alpha,
                                                     hp.distortion_param)

        # Critic: distributional TD with the element-wise min of the target twins.
        with torch.no_grad():
            next_actions = self.actor_ema.sample(batch.next_observations, generator)  # [B, A]
        critic_losses, z, target = iqn_td_loss(self.critic, self.critic_target, batch, next_actions, taus,
                                               target_taus, hp.discount, hp.target_clip, hp.huber_kappa,
                                               hp.quantile_pairing)  # [E], [E, B, N], [B, M]
        critic_norms = self.optimize(critic_opt, critic_losses.sum(), self.critic, max_norm=hp.max_grad_norm,
                                     ensemble_size=self.critic.ensemble_size)  # [E]

        # Actor: BC + risk through the whole reverse chain; critic weights detached. While the risk weight is 0
        # (warm-up) the risk branch is skipped: the released code computes it and multiplies it by 0, which adds
        # exact zeros to the BC gradient. Its noise is drawn either way, so the run is bit-identical and ~half an
        # iteration cheaper during warm-up (BENCHMARKS.md).
        noise = self.actor.sample_noise(obs.shape[0], generator, obs.device).to(obs.dtype)  # the policy's chain
        bc_loss = self.actor.bc_loss(obs, actions, generator)
        weight = scheduled_risk_weight(self.iteration, hp.risk_weight, hp.risk_warmup_iterations,
                                       hp.risk_ramp_iterations)
        regularizing = hp.regularizer != "bc" and self.iteration > hp.risk_warmup_iterations  # any risk weight
        risk = regularizer = None
        actor_loss = hp.bc_weight * bc_loss
        if weight > 0 or regularizing:
            policy_actions = self.actor.actions_from_noise(obs, noise)  # [B, A]
        if regularizing:  # in place of the BC loss (which stays logged)
            with torch.no_grad():
                other = actions if hp.regularizer == "sample_l2" else \
                    self.actor_reference.actions_from_noise(obs, noise)  # the same noise: a coupling
            regularizer = mean_squared_distance(policy_actions, other)
            actor_loss = hp.bc_weight * regularizer
        if weight > 0:
            quantiles = self.critic(obs, policy_actions, risk_taus, detach_params=True).float()  # [E, B, K]
            risk = risk_value(quantiles)
            actor_loss = actor_loss - weight * (risk / risk_scale(quantiles) if hp.normalize_risk else risk)
        elif self.logs_this_iteration():  # the value the skipped branch would have had, for the log only
            with torch.no_grad():
                acted = policy_actions.detach() if regularizing else self.actor.actions_from_noise(obs, noise)
                risk = risk_value(self.critic(obs, acted, risk_taus, detach_params=True).float())
        actor_norm = self.optimize(actor_opt, actor_loss, self.actor, max_norm=hp.max_grad_norm, counted=True)

        # Targets.
        soft_update_(self.critic_target, self.critic, hp.target_update_rate)
        if self.iteration >= hp.ema_start_iteration and self.iteration % hp.ema_every == 0:
            soft_update_(self.actor_ema, self.actor, 1.0 - hp.ema_decay)
        if hp.regularizer == "w2_coupling" and hp.regularizer_reference is None \
                and self.iteration == hp.risk_warmup_iterations:  # the warm-up's last iteration: freeze its EMA chain
            self.actor_reference.load_state_dict(self.actor_ema.state_dict())

        metrics = {
            "train/critic/loss": critic_losses.detach().mean(),
            "train/critic/z_mean": z.detach().mean(),
            "train/critic/target_mean": target.mean(),
            "train/critic/grad_norm": critic_norms.max(),
            "train/actor/loss": actor_loss.detach(),
            "train/actor/bc_loss": bc_loss.detach(),
            "train/actor/risk_weight": torch.tensor(weight),
            "train/actor/grad_norm": actor_norm,
        }
        if risk is not None:
            metrics["train/actor/risk"] = risk.detach()
        if regularizer is not None:
            metrics["train/actor/regularizer"] = regularizer.detach()
        if self.logs_this_iteration():
            metrics["train/critic/risk_at_data"] = risk_at(self.critic, obs, actions, risk_taus)
        return metrics

    def bc_reference(self) -> BCReference:
        return BCReference(self.actor, self.hparams.actor_lr, self.hparams.max_grad_norm, self.hparams.bc_weight)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        actor = self.actor if self.hparams.eval_actor == "online" else self.actor_ema
        return actor.sample(self.obs_normalizer(obs), generator)
