"""Twin implicit-quantile (IQN) critics with stacked weights.

Architecture per member (O-RAAC / RAMAC ``utils/quantile_value.py``): state branch ``Linear(O, H)``
+ ReLU, action branch ``Linear(A, H)`` + ReLU, fuse ``Linear(2H, D)`` + ReLU; quantile branch
``cos(pi i tau), i = 0..C-1`` -> ``Linear(C, D)`` + ReLU; Hadamard product -> ``Linear(D, F)`` + ReLU
-> ``Linear(F, 1)`` with ``F = H`` (RAMAC) or apart (O-RAAC). Hidden weights ~ N(0, 0.1²), head weight
~ U(-3e-4, 3e-4), head bias 0.

Speed: the state-action part runs once per sample (B rows) and the quantile part once per level
(N rows); they meet only in the ``[E, B, N, D]`` product. The released code tiles every input to
B·N rows before every layer, which is exact but ~2.5× slower (BENCHMARKS.md, "What made the difference").
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ramac.nn.functional import ensemble_head


def _stacked_linear(ensemble: int, fan_in: int, fan_out: int, weight_std: float) -> tuple[nn.Parameter, nn.Parameter]:
    weight = torch.randn(ensemble, fan_in, fan_out) * weight_std
    bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default bias init, as in the released critic
    bias = torch.empty(ensemble, fan_out).uniform_(-bound, bound)
    return nn.Parameter(weight), nn.Parameter(bias)


class TwinIQNCritic(nn.Module):
    """``E`` IQN critics evaluated together: ``(obs [B, O], actions [B, A], taus) -> z [E, B, N]``.

    Args:
        obs_dim: observation dimension ``O``.
        action_dim: action dimension ``A``.
        cosine_features: number ``C`` of cosine features of the quantile level (released code: ``N``).
        embedding_dim: width ``D`` of the state-action / quantile embedding.
        hidden_dim: width ``H`` of the branches and the head.
        ensemble_size: number ``E`` of critics (2: twin critics).
        head_hidden_dim: width ``F`` of the layer before the output (default ``H``; O-RAAC's ``HIDDEN_UNITS_F``
            sets it apart from the branch width).
    """

    def __init__(self, obs_dim: int, action_dim: int, cosine_features: int = 16, embedding_dim: int = 64,
                 hidden_dim: int = 256, ensemble_size: int = 2, head_hidden_dim: int | None = None) -> None:
        super().__init__()
        for name, value in (("obs_dim", obs_dim), ("action_dim", action_dim), ("cosine_features", cosine_features),
                            ("embedding_dim", embedding_dim), ("hidden_dim", hidden_dim),
                            ("ensemble_size", ensemble_size)):
            if value < 1:
                raise ValueError(f"TwinIQNCritic: {name} must be >= 1, got {value}")
        self.obs_dim, self.action_dim, self.ensemble_size = obs_dim, action_dim, ensemble_size
        std = 0.1
        self.state_weight, self.state_bias = _stacked_linear(ensemble_size, obs_dim, hidden_dim, std)
        self.action_weight, self.action_bias = _stacked_linear(ensemble_size, action_dim, hidden_dim, std)
        self.fuse_weight, self.fuse_bias = _stacked_linear(ensemble_size, 2 * hidden_dim, embedding_dim, std)
        self.tau_weight, self.tau_bias = _stacked_linear(ensemble_size, cosine_features, embedding_dim, std)
        head_hidden_dim = head_hidden_dim or hidden_dim
        self.hidden_weight, self.hidden_bias = _stacked_linear(ensemble_size, embedding_dim, head_hidden_dim, std)
        self.head_weight = nn.Parameter(torch.empty(ensemble_size, head_hidden_dim).uniform_(-3e-4, 3e-4))
        self.head_bias = nn.Parameter(torch.zeros(ensemble_size))
        self.register_buffer("cosine_basis", torch.arange(cosine_features, dtype=torch.float32) * math.pi,
                             persistent=False)

    def forward(
        self,
        obs: Tensor,  # [B, O]
        actions: Tensor,  # [B, A]
        taus: Tensor,  # [N] shared by the batch, or [B, N]
        detach_params: bool = False,
    ) -> Tensor:  # [E, B, N]
        """Quantile values ``Z_e(s_b, a_b; tau)``.

        ``detach_params=True`` uses detached weights: gradients then reach ``actions`` (the actor's
        risk term) but never the critic's parameters, and no weight gradients are computed at all.
        """
        if obs.dim() != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must be [B, {self.obs_dim}], got {tuple(obs.shape)}")
        if actions.shape != (obs.shape[0], self.action_dim):
            raise ValueError(f"actions must be [{obs.shape[0]}, {self.action_dim}], got {tuple(actions.shape)}")
        if taus.dim() not in (1, 2) or (taus.dim() == 2 and taus.shape[0] != obs.shape[0]):
            raise ValueError(f"taus must be [N] or [B, N] with B = {obs.shape[0]}, got {tuple(taus.shape)}")
        p = {name: (param.detach() if detach_params else param) for name, param in self.named_parameters()}
        batch = obs.shape[0]
        # [E, B, H]: the state and action branches broadcast one input over the ensemble.
        state_h = torch.relu_(torch.matmul(obs, p["state_weight"]) + p["state_bias"].unsqueeze(1))
        action_h = torch.relu_(torch.matmul(actions, p["action_weight"]) + p["action_bias"].unsqueeze(1))
        # [E, B, D]
        sa = torch.relu_(torch.baddbmm(p["fuse_bias"].unsqueeze(1), torch.cat((state_h, action_h), -1),
                                       p["fuse_weight"]))
        # [N, C] or [B, N, C] -> [E, N, D] or [E, B*N, D]
        cos = torch.cos(taus.unsqueeze(-1) * self.cosine_basis)
        n_levels = taus.shape[-1]
        tau_h = torch.relu_(torch.matmul(cos.reshape(-1, cos.shape[-1]), p["tau_weight"])
                            + p["tau_bias"].unsqueeze(1))
        if taus.dim() == 1:
            mixed = sa.unsqueeze(2) * tau_h.unsqueeze(1)  # [E, B, N, D]
        else:
            mixed = sa.unsqueeze(2) * tau_h.view(self.ensemble_size, batch, n_levels, -1)
        mixed = mixed.reshape(self.ensemble_size, batch * n_levels, -1)  # [E, B*N, D]
        hidden = torch.relu_(torch.baddbmm(p["hidden_bias"].unsqueeze(1), mixed, p["hidden_weight"]))  # [E, B*N, H]
        z = ensemble_head(hidden, p["head_weight"], p["head_bias"])  # [E, B*N]
        return z.view(self.ensemble_size, batch, n_levels)
