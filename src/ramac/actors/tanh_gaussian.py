"""Tanh-squashed Gaussian policy (SAC; Haarnoja et al. 2018, App. C): the actor of CQL, CODAC and the zoo's SAC."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ramac.nn.mlp import mlp

LOG_STD_RANGE = (-20.0, 2.0)  # clamp of log σ (SAC reference implementations; the zoo's shipped policies)


class TanhGaussianActor(nn.Module):
    r"""``a = max_action · tanh(u)``, ``u ~ N(μ_θ(s), σ_θ(s)²)`` with ``(μ, log σ)`` from one MLP.

    ``log π(a|s) = Σ_i [log N(u_i; μ_i, σ_i) − log(1 − tanh²u_i)] − A log max_action``; the tanh term is
    written ``2 (log 2 − u − softplus(−2u))`` for stability (SAC App. C, Eq. 21). The ``A log max_action``
    constant is left out, as in SAC implementations: it moves no gradient.
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, hidden_dim: int = 256,
                 hidden_layers: int = 2, xavier_init: bool = False) -> None:
        super().__init__()
        if max_action <= 0:
            raise ValueError(f"TanhGaussianActor: max_action must be > 0, got {max_action}")
        self.action_dim, self.max_action = action_dim, float(max_action)
        # keys net.0/2/4: zoo policy files; Xavier-uniform weights and zero biases as CODAC's sac/model.py
        self.net = mlp(obs_dim, 2 * action_dim, hidden_dim, hidden_layers, xavier_init=xavier_init)

    def _mean_log_std(self, obs: Tensor) -> tuple[Tensor, Tensor]:  # [B, O] -> [B, A], [B, A]
        mean, log_std = self.net(obs).chunk(2, -1)
        return mean, log_std.clamp(*LOG_STD_RANGE)

    def sample_noise(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        return torch.randn((batch, self.action_dim), generator=generator, device=device)  # [B, A]

    def _squash(self, mean: Tensor, log_std: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        std = log_std.exp()
        pre = mean + std * noise
        log_prob = (-0.5 * noise.square() - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)
        log_prob = log_prob - (2 * (math.log(2) - pre - F.softplus(-2 * pre))).sum(-1)  # tanh correction
        return torch.tanh(pre) * self.max_action, log_prob

    def sample_with_log_prob(self, obs: Tensor, generator: torch.Generator | None = None
                             ) -> tuple[Tensor, Tensor]:  # [B, O] -> [B, A], [B]
        mean, log_std = self._mean_log_std(obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        return self._squash(mean, log_std, noise)

    forward = sample_with_log_prob

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [B, O] -> [B, A]
        return self.sample_with_log_prob(obs, generator)[0]

    def actions_from_noise(self, obs: Tensor, noise: Tensor) -> Tensor:  # [B, O], [B, A] -> [B, A]
        mean, log_std = self._mean_log_std(obs)
        if noise.shape != mean.shape:
            raise ValueError(f"noise must be [B={obs.shape[0]}, A={self.action_dim}], got {tuple(noise.shape)}")
        return self._squash(mean, log_std, noise.to(mean.dtype))[0]

    def mean_action(self, obs: Tensor) -> Tensor:  # [B, O] -> [B, A]
        """``max_action · tanh(μ(s))``, the deterministic action."""
        return torch.tanh(self._mean_log_std(obs)[0]) * self.max_action

    def log_prob(self, obs: Tensor, actions: Tensor, epsilon: float = 1e-6) -> Tensor:  # [B, O], [B, A] -> [B]
        """``log π(a|s)`` of given actions; ``a / max_action`` is clipped to ``±(1 − epsilon)`` before ``atanh``."""
        mean, log_std = self._mean_log_std(obs)
        squashed = (actions / self.max_action).clamp(-1.0 + epsilon, 1.0 - epsilon)
        pre = torch.atanh(squashed)
        noise = (pre - mean) / log_std.exp()
        log_prob = (-0.5 * noise.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        return log_prob - (2 * (math.log(2) - pre - F.softplus(-2 * pre))).sum(-1)

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor:  # []
        """Maximum likelihood ``−E log π(a|s)`` over dataset actions (``generator`` unused: no sampling)."""
        return -self.log_prob(obs, actions).mean()

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = True, generator: torch.Generator | None = None) -> Tensor:
        """The zoo's acting rule: the mean action, or a sample."""
        return self.mean_action(obs) if deterministic else self.sample(obs, generator)
