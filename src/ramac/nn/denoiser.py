"""Noise-prediction network of the diffusion actor (Diffusion-QL MLP, used by RADAC).

``eps_theta(x_t, t, s)``: input ``[x_t, time_emb(t), s]`` with ``time_emb`` = sinusoidal(16) ->
Linear(16, 32) -> Mish -> Linear(32, 16); body 3 × (Linear(H) + Mish) -> Linear(H, A)
(Wang et al. 2023, Diffusion-QL; RAMAC ``agents/radac_diffusion.py``).

The first layer is applied in three column blocks, so a reverse chain computes the observation part
once per call and the time part once per diffusion step instead of once per sample and step. This is
the same function as concatenating the inputs (checked in the tests).

``input_scale`` multiplies ``x_t`` before the first layer (1 = Diffusion-QL). Ours, for low-dimensional
actions with fine structure: on the 2-D bandit the MLP under Adam fits the sharp posterior mean of the thin
ring at small noise only with its input spread out (the spectral-bias remedy of Fourier-feature inputs,
Tancik et al. 2020, in its simplest form); measurements in README "The bandit".
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from ramac.nn.functional import mish, sinusoidal_embedding


class ConditionalField(Protocol):
    """A network ``f(x_t, t, s)`` split for chains: ``trunk(x_t, obs_features(s) + time_features(t))``.

    The generative processes (:mod:`ramac.generative`) need only this: the observation part computed once per
    chain, the time part once per step, and the trunk per step (``H`` is the width of the conditioning).
    """

    action_dim: int

    def obs_features(self, obs: Tensor) -> Tensor: ...  # [B, O] -> [B, H]

    def time_features(self, timesteps: Tensor) -> Tensor: ...  # [L] int -> [L, H]

    def trunk(self, noisy_actions: Tensor, conditioning: Tensor) -> Tensor: ...  # [B, A], [B, H] -> [B, A]


class Denoiser(nn.Module):
    """``(x_t [B, A], t [B] int, obs [B, O]) -> eps [B, A]``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_dim: int = 256, time_dim: int = 16,
                 input_scale: float = 1.0) -> None:
        super().__init__()
        if input_scale <= 0:
            raise ValueError(f"Denoiser: input_scale must be > 0, got {input_scale}")
        for name, value in (("obs_dim", obs_dim), ("action_dim", action_dim), ("hidden_dim", hidden_dim)):
            if value < 1:
                raise ValueError(f"Denoiser: {name} must be >= 1, got {value}")
        self.obs_dim, self.action_dim, self.time_dim, self.input_scale = obs_dim, action_dim, time_dim, input_scale
        self.time_in = nn.Linear(time_dim, 2 * time_dim)
        self.time_out = nn.Linear(2 * time_dim, time_dim)
        self.layer1 = nn.Linear(action_dim + time_dim + obs_dim, hidden_dim)
        self.layer2 = nn.Linear(hidden_dim, hidden_dim)
        self.layer3 = nn.Linear(hidden_dim, hidden_dim)
        self.out = nn.Linear(hidden_dim, action_dim)

    def time_features(self, timesteps: Tensor) -> Tensor:  # [L] int -> [L, H]
        """Contribution of the time embedding to the first layer's pre-activation."""
        emb = sinusoidal_embedding(timesteps, self.time_dim)
        emb = self.time_out(mish(self.time_in(emb)))
        w = self.layer1.weight[:, self.action_dim:self.action_dim + self.time_dim]
        return emb @ w.t()

    def obs_features(self, obs: Tensor) -> Tensor:  # [B, O] -> [B, H]
        """Contribution of the observation (plus the first layer's bias)."""
        w = self.layer1.weight[:, self.action_dim + self.time_dim:]
        return torch.addmm(self.layer1.bias, obs, w.t())

    def trunk(self, noisy_actions: Tensor, conditioning: Tensor) -> Tensor:  # [B, A], [B, H] -> [B, A]
        """Rest of the network given ``obs_features + time_features``."""
        w = self.layer1.weight[:, :self.action_dim]
        if self.input_scale != 1.0:
            noisy_actions = noisy_actions * self.input_scale
        h = mish(torch.addmm(conditioning, noisy_actions, w.t()))
        h = mish(self.layer2(h))
        h = mish(self.layer3(h))
        return self.out(h)

    def forward(self, noisy_actions: Tensor, timesteps: Tensor, obs: Tensor) -> Tensor:
        if noisy_actions.dim() != 2 or noisy_actions.shape[1] != self.action_dim:
            raise ValueError(f"noisy_actions must be [B, {self.action_dim}], got {tuple(noisy_actions.shape)}")
        if obs.shape != (noisy_actions.shape[0], self.obs_dim):
            raise ValueError(f"obs must be [{noisy_actions.shape[0]}, {self.obs_dim}], got {tuple(obs.shape)}")
        return self.trunk(noisy_actions, self.obs_features(obs) + self.time_features(timesteps))
