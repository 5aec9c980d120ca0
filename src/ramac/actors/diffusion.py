"""Diffusion actor: the Diffusion-QL denoiser × a DDPM chain (RADAC's actor; the protocol is in
:mod:`ramac.actors.base`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ramac.generative.ddpm import BetaSchedule, DDPMSchedule, epsilon_loss, sample_actions
from ramac.nn.denoiser import Denoiser


class DiffusionActor(nn.Module):
    """DDPM policy ``π_θ(a|s)`` with an epsilon-prediction denoiser (RADAC's actor).

    Args:
        obs_dim, action_dim: dimensions ``O`` and ``A``.
        max_action: actions and predicted ``x̂_0`` are clamped to ``[-max_action, max_action]``.
        diffusion_steps: ``T`` (5 in RAMAC).
        beta_schedule: noise schedule (``vp`` in RAMAC).
        hidden_dim, time_dim: denoiser widths.
        input_scale: factor on ``x_t`` at the denoiser's input (1 = Diffusion-QL; see ``Denoiser``).
        clip_denoised: clamp ``x̂_0`` at every reverse step (released code: on).
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, diffusion_steps: int = 5,
                 beta_schedule: BetaSchedule = "vp", hidden_dim: int = 256, time_dim: int = 16,
                 clip_denoised: bool = True, input_scale: float = 1.0) -> None:
        super().__init__()
        if max_action <= 0:
            raise ValueError(f"max_action must be > 0, got {max_action}")
        self.action_dim, self.max_action, self.clip_denoised = action_dim, float(max_action), clip_denoised
        self.denoiser = Denoiser(obs_dim, action_dim, hidden_dim, time_dim, input_scale)
        self.schedule = DDPMSchedule(beta_schedule, diffusion_steps)

    def sample_noise(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        """All random numbers of one reverse chain, ``[T+1, B, A]``."""
        return torch.randn((self.schedule.steps + 1, batch, self.action_dim), generator=generator, device=device)

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [B, O] -> [B, A]
        return self.actions_from_noise(obs, self.sample_noise(obs.shape[0], generator, obs.device).to(obs.dtype))

    def actions_from_noise(self, obs: Tensor, noise: Tensor) -> Tensor:  # [B, O], [T+1, B, A] -> [B, A]
        """The reverse chain from the given noise (``noise[0]`` is ``x_T``; see :mod:`ramac.generative.ddpm`)."""
        return sample_actions(self.denoiser, self.schedule, obs, noise, self.max_action, self.clip_denoised)

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:
        batch = obs.shape[0]
        timesteps = torch.randint(0, self.schedule.steps, (batch,), generator=generator, device=obs.device)
        noise = torch.randn(actions.shape, generator=generator, device=obs.device, dtype=actions.dtype)
        return epsilon_loss(self.denoiser, self.schedule, obs, actions, timesteps, noise)
