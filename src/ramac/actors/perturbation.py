"""O-RAAC's bounded perturbation actor (``ORAAC_Actor`` in ``oraaclib/util/neural_networks/neural_networks.py``):
``a = clip(b + λ · max_action · tanh(ξ(s, b)), ±max_action)``, an L∞ step of at most ``λ · max_action`` from an
anchor action ``b`` drawn from an imitation prior."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class PerturbationActor(nn.Module):
    """``ξ``: ``[s, b]`` → Linear 400 → ReLU → Linear 300 → ReLU → Linear ``A`` (O-RAAC's sizes).

    Args:
        obs_dim, action_dim, max_action: dimensions and action bound.
        perturbation_scale: ``λ`` (O-RAAC's ``lamda``): the perturbation is bounded by ``λ · max_action``.
    """

    def __init__(self, obs_dim: int, action_dim: int, max_action: float = 1.0, perturbation_scale: float = 0.25,
                 hidden_dims: tuple[int, int] = (400, 300)) -> None:
        super().__init__()
        if max_action <= 0 or perturbation_scale < 0:
            raise ValueError(f"PerturbationActor: max_action must be > 0 and perturbation_scale >= 0, got "
                             f"{max_action}, {perturbation_scale}")
        self.action_dim, self.max_action, self.perturbation_scale = action_dim, float(max_action), perturbation_scale
        first, second = hidden_dims
        self.net = nn.Sequential(nn.Linear(obs_dim + action_dim, first), nn.ReLU(inplace=True),
                                 nn.Linear(first, second), nn.ReLU(inplace=True), nn.Linear(second, action_dim))

    def forward(self, obs: Tensor, anchors: Tensor) -> Tensor:  # [B, O], [B, A] -> [B, A]
        if anchors.shape != (obs.shape[0], self.action_dim):
            raise ValueError(f"anchors must be [B={obs.shape[0]}, A={self.action_dim}], got {tuple(anchors.shape)}")
        step = self.perturbation_scale * self.max_action * torch.tanh(self.net(torch.cat((obs, anchors), -1)))
        return (anchors + step).clamp(-self.max_action, self.max_action)
