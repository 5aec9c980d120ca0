"""Twin Q critics ``(obs [B, O], actions [B, A]) -> q [E, B]`` (Diffusion-QL, FQL, CQL)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ramac.nn.mlp import Activation, mlp


class TwinQCritic(nn.Module):
    """``E`` independent MLPs on ``[s, a]`` (Diffusion-QL ``agents/ql_diffusion.py`` ``Critic``: 3 × 256 Mish;
    FQL ``Value``: 4 × 512 GELU with LayerNorm, Xavier init).

    ``detach_params=True`` evaluates with the weights detached: gradients reach the actions, never the weights
    (the contract of :class:`ramac.critics.iqn.TwinIQNCritic`).
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden_dim: int = 256, hidden_layers: int = 3,
                 activation: Activation = "mish", layer_norm: bool = False, xavier_init: bool = False,
                 ensemble_size: int = 2) -> None:
        super().__init__()
        self.obs_dim, self.action_dim, self.ensemble_size = obs_dim, action_dim, ensemble_size
        self.members = nn.ModuleList(mlp(obs_dim + action_dim, 1, hidden_dim, hidden_layers, activation, layer_norm,
                                         xavier_init) for _ in range(ensemble_size))

    def forward(self, obs: Tensor, actions: Tensor, detach_params: bool = False) -> Tensor:  # -> [E, B]
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must be [B, {self.obs_dim}], got {tuple(obs.shape)}")
        if actions.shape != (obs.shape[0], self.action_dim):
            raise ValueError(f"actions must be [{obs.shape[0]}, {self.action_dim}], got {tuple(actions.shape)}")
        inputs = torch.cat((obs, actions), -1)
        if detach_params:
            return torch.stack([functional_call(member, {n: p.detach() for n, p in member.named_parameters()},
                                                (inputs,)).squeeze(-1) for member in self.members])
        return torch.stack([member(inputs).squeeze(-1) for member in self.members])
