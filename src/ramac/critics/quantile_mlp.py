"""Twin quantile-fraction critics of DSAC/CODAC ``(obs [B, O], actions [B, A], taus [B, N]) -> z [E, B, N]``.

Each member is CODAC's ``QuantileMlp`` (``JasonMa2016/CODAC`` @ 991866b, ``distributional/networks.py``):
``h = ReLU(LN(Linear(O + A, H)([s, a])))``; ``e(τ) = σ(LN(Linear(C, H)(cos(π i τ)_{i=1..C})))``;
``Z = Linear(H, 1)(ReLU(LN(Linear(H, H)(h ⊙ e(τ)))))``, with torch's default initialisation. The parameter names
are the reference's (``base_fc``, ``tau_fc``, ``merge_fc``, ``last_fc``), so its state dicts load unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import functional_call


class QuantileMLP(nn.Module):
    """One member: ``(obs [B, O], actions [B, A], taus [B, N]) -> z [B, N]``."""

    def __init__(self, obs_dim: int, action_dim: int, hidden_dim: int = 256, cosine_features: int = 64) -> None:
        super().__init__()
        self.base_fc = nn.Sequential(nn.Linear(obs_dim + action_dim, hidden_dim), nn.LayerNorm(hidden_dim),
                                     nn.ReLU(inplace=True))
        self.tau_fc = nn.Sequential(nn.Linear(cosine_features, hidden_dim), nn.LayerNorm(hidden_dim), nn.Sigmoid())
        self.merge_fc = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.LayerNorm(hidden_dim),
                                      nn.ReLU(inplace=True))
        self.last_fc = nn.Linear(hidden_dim, 1)
        self.register_buffer("cosine_basis", torch.arange(1, cosine_features + 1, dtype=torch.float32) * math.pi,
                             persistent=False)

    def forward(self, obs: Tensor, actions: Tensor, taus: Tensor) -> Tensor:
        h = self.base_fc(torch.cat((obs, actions), -1))  # [B, H]
        e = self.tau_fc(torch.cos(taus.unsqueeze(-1) * self.cosine_basis))  # [B, N, H]
        return self.last_fc(self.merge_fc(e * h.unsqueeze(-2))).squeeze(-1)  # [B, N]


class TwinQuantileCritic(nn.Module):
    """``E`` independent :class:`QuantileMLP` members evaluated at per-sample levels ``taus [B, N]``.

    ``detach_params=True`` evaluates with detached weights: gradients reach the actions, never the weights (the
    contract of :class:`ramac.critics.iqn.TwinIQNCritic`).
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden_dim: int = 256, cosine_features: int = 64,
                 ensemble_size: int = 2) -> None:
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("action_dim", action_dim), ("hidden_dim", hidden_dim),
                            ("cosine_features", cosine_features), ("ensemble_size", ensemble_size)):
            if value < 1:
                raise ValueError(f"TwinQuantileCritic: {name} must be >= 1, got {value}")
        self.obs_dim, self.action_dim, self.ensemble_size = obs_dim, action_dim, ensemble_size
        self.members = nn.ModuleList(QuantileMLP(obs_dim, action_dim, hidden_dim, cosine_features)
                                     for _ in range(ensemble_size))

    def forward(self, obs: Tensor, actions: Tensor, taus: Tensor, detach_params: bool = False) -> Tensor:
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must be [B, {self.obs_dim}], got {tuple(obs.shape)}")
        if actions.shape != (obs.shape[0], self.action_dim):
            raise ValueError(f"actions must be [{obs.shape[0]}, {self.action_dim}], got {tuple(actions.shape)}")
        if taus.dim() != 2 or taus.shape[0] != obs.shape[0]:
            raise ValueError(f"taus must be [B={obs.shape[0]}, N], got {tuple(taus.shape)}")
        if detach_params:
            return torch.stack([functional_call(member, {n: p.detach() for n, p in member.named_parameters()},
                                                (obs, actions, taus)) for member in self.members])
        return torch.stack([member(obs, actions, taus) for member in self.members])  # [E, B, N]
