"""The conditional VAE behaviour model of BCQ/O-RAAC (Fujimoto et al. 2019; Urpí et al. 2021): the imitation prior
of ORAAC (O-RAAC ``oraaclib/util/neural_networks/neural_networks.py``, class ``VAE``)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ramac.nn.mlp import mlp

LOG_STD_RANGE = (-4.0, 15.0)  # O-RAAC's clamp of the encoder's log σ
PRIOR_CLIP = 0.5  # latent samples of the prior are clipped to ±0.5 (BCQ's decoder rule)


class ConditionalVAE(nn.Module):
    r"""``q(z|s, a) = N(μ(s, a), σ(s, a)²)``, decoder ``a = max_action · tanh(D(s, z))``, latent dim ``Z = 2A``.

    ``bc_loss`` is the negative ELBO as O-RAAC trains it: ``mean (D(s, z) − a)² + ½ · mean KL(q ‖ N(0, I))`` with
    ``KL = −½ (1 + log σ² − μ² − σ²)`` element-wise; both means over every element. ``sample`` decodes a latent drawn
    from ``N(0, I)`` and clipped to ``±0.5``; ``actions_from_noise`` decodes given latents (``noise [B, Z]``, clipped
    the same way; zeros give O-RAAC's evaluation anchor).
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, hidden_dim: int = 750,
                 latent_dim: int | None = None) -> None:
        super().__init__()
        if max_action <= 0:
            raise ValueError(f"ConditionalVAE: max_action must be > 0, got {max_action}")
        self.action_dim, self.max_action = action_dim, float(max_action)
        self.latent_dim = latent_dim or 2 * action_dim
        self.encoder = mlp(obs_dim + action_dim, 2 * self.latent_dim, hidden_dim)  # mean and log σ heads in one
        self.decoder = mlp(obs_dim + self.latent_dim, action_dim, hidden_dim)

    def encode(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:  # -> mean, log σ, each [B, Z]
        mean, log_std = self.encoder(torch.cat((obs, actions), -1)).chunk(2, -1)
        return mean, log_std.clamp(*LOG_STD_RANGE)

    def decode(self, obs: Tensor, latent: Tensor) -> Tensor:  # [B, O], [B, Z] -> [B, A]
        return self.max_action * torch.tanh(self.decoder(torch.cat((obs, latent), -1)))

    def sample_noise(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        return torch.randn((batch, self.latent_dim), generator=generator, device=device)  # [B, Z]

    def actions_from_noise(self, obs: Tensor, noise: Tensor) -> Tensor:  # [B, O], [B, Z] -> [B, A]
        if noise.shape != (obs.shape[0], self.latent_dim):
            raise ValueError(f"noise must be [B={obs.shape[0]}, Z={self.latent_dim}], got {tuple(noise.shape)}")
        return self.decode(obs, noise.clamp(-PRIOR_CLIP, PRIOR_CLIP))

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [B, O] -> [B, A]
        return self.actions_from_noise(obs, self.sample_noise(obs.shape[0], generator, obs.device).to(obs.dtype))

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:  # []
        mean, log_std = self.encode(obs, actions)
        std = log_std.exp()
        latent = mean + std * torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        reconstruction = (self.decode(obs, latent) - actions).square().mean()
        kl = -0.5 * (1 + (2 * log_std) - mean.square() - std.square()).mean()
        return reconstruction + 0.5 * kl
