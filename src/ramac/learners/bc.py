"""Behaviour cloning with any actor: the risk-weight-0 reference of every comparison.

One iteration: ``L = L_BC(θ)`` on a batch of dataset actions (the actor's own BC loss: the DDPM epsilon loss,
flow matching, or ``−log π`` for the tanh-Gaussian), one Adam step. Acting samples the actor (the tanh-Gaussian
acts with its mean, as SAC-style BC evaluates).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from ramac.actors.diffusion import DiffusionActor
from ramac.actors.flow import FlowActor
from ramac.actors.tanh_gaussian import TanhGaussianActor
from ramac.generative.ddpm import BetaSchedule
from ramac.learners.base import BCReference, OfflineLearner, check_non_negative, check_positive
from ramac.types import Batch

ActorKind = Literal["diffusion", "flow", "tanh_gaussian"]


class BC(OfflineLearner):
    """Behaviour cloning (ours; settings match the learner each actor comes from).

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        actor: ``diffusion`` (RADAC's/Diffusion-QL's actor), ``flow`` (FQL's BC flow: 4 GELU layers, Xavier init) or
            ``tanh_gaussian`` (SAC's actor: 2 ReLU layers).
        actor_hidden_dim: width of the actor's network.
        diffusion_steps, beta_schedule: the diffusion actor.
        actor_input_scale: factor on the noisy action at the diffusion or flow network's input (1: released).
        flow_steps: Euler steps of the flow actor.
        actor_lr: Adam learning rate.
        max_grad_norm: gradient-norm clip; 0 disables.
        seed: see :class:`OfflineLearner`.
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, actor: ActorKind = "diffusion",
                 actor_hidden_dim: int = 256, diffusion_steps: int = 5, beta_schedule: BetaSchedule = "vp",
                 actor_input_scale: float = 1.0, flow_steps: int = 10, actor_lr: float = 3e-4,
                 max_grad_norm: float = 0.0, seed: int = 0) -> None:
        super().__init__(obs_dim, seed=seed)
        self.save_hyperparameters()
        check_positive("BC", actor_lr=actor_lr)
        check_non_negative("BC", max_grad_norm=max_grad_norm)
        if actor == "diffusion":
            self.actor = DiffusionActor(obs_dim, action_dim, max_action, diffusion_steps, beta_schedule,
                                        actor_hidden_dim, input_scale=actor_input_scale)
        elif actor == "flow":
            self.actor = FlowActor(obs_dim, action_dim, max_action, flow_steps, actor_hidden_dim,
                                   input_scale=actor_input_scale)
        elif actor == "tanh_gaussian":
            self.actor = TanhGaussianActor(obs_dim, action_dim, max_action, actor_hidden_dim)
        else:
            raise ValueError(f"BC: actor must be 'diffusion', 'flow' or 'tanh_gaussian', got {actor!r}")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.actor.parameters(), lr=self.hparams.actor_lr,
                                fused=self.device.type in ("cpu", "cuda"))

    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        optimizer = self.optimizers()
        bc_loss = self.actor.bc_loss(batch.observations, batch.actions, generator)
        norm = self.optimize(optimizer, bc_loss, self.actor, max_norm=self.hparams.max_grad_norm, counted=True)
        return {"train/actor/bc_loss": bc_loss.detach(), "train/actor/grad_norm": norm}

    def bc_reference(self) -> BCReference:
        return BCReference(self.actor, self.hparams.actor_lr, self.hparams.max_grad_norm)

    @torch.no_grad()
    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        obs = self.obs_normalizer(obs)
        if isinstance(self.actor, TanhGaussianActor):
            return self.actor.mean_action(obs)
        return self.actor.sample(obs, generator)
