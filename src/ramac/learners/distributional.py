"""The distributional-critic half of an iteration shared by RADAC, RAFMAC and ORAAC: the
quantile levels of one iteration and the twin IQN critics' TD loss. No optimizer here: the learners step it."""

from __future__ import annotations

import torch
from torch import Tensor

from ramac.critics.iqn import TwinIQNCritic
from ramac.objectives.distributional import (
    LevelReduction,
    QuantilePairing,
    distributional_td_target,
    quantile_huber_loss,
)
from ramac.objectives.risk import Distortion, distort, risk_value
from ramac.types import Batch


def sample_levels(generator: torch.Generator, device: torch.device, online: int, target: int, risk: int,
                  distortion: Distortion, cvar_alpha: float, distortion_param: float | None
                  ) -> tuple[Tensor, Tensor, Tensor]:  # [N], [M], [K]
    """One draw of ``N + M + K`` uniform levels, split into the online ``τ``, the target ``τ'`` and the distorted
    risk levels ``g(u)`` (RAMAC: all from one ``torch.rand`` call per iteration)."""
    levels = torch.rand(online + target + risk, generator=generator, device=device)
    taus, target_taus, risk_levels = levels.split([online, target, risk])
    return taus, target_taus, distort(risk_levels, distortion, cvar_alpha, distortion_param)


def iqn_td_loss(critic: TwinIQNCritic, critic_target: TwinIQNCritic, batch: Batch, next_actions: Tensor,
                taus: Tensor, target_taus: Tensor, discount: float, target_clip: tuple[float, float] | None,
                huber_kappa: float, pairing: QuantilePairing, level_reduction: LevelReduction = "sum"
                ) -> tuple[Tensor, Tensor, Tensor]:
    """Per-critic quantile-Huber TD loss ``[E]``, the online quantiles ``z [E, B, N]`` and the target ``[B, M]``:
    ``y_j = clip(r + γ (1 − d) min_e Z̄_e(s', a'; τ'_j))`` with ``a' = next_actions`` (RAMAC Eq. 10; with one
    critic, ORAAC's target without the min)."""
    with torch.no_grad():
        next_z = critic_target(batch.next_observations, next_actions, target_taus)  # [E, B, M]
        target = distributional_td_target(batch.rewards, batch.terminals, next_z.float(), discount,
                                          target_clip)  # [B, M]
    z = critic(batch.observations, batch.actions, taus).float()  # [E, B, N]
    return quantile_huber_loss(z, target, taus, huber_kappa, pairing, level_reduction=level_reduction), z, target


@torch.no_grad()
def risk_at(critic: TwinIQNCritic, obs: Tensor, actions: Tensor, risk_taus: Tensor) -> Tensor:  # -> []
    """The critics' risk estimate at given actions, without gradient (logged at the data's actions beside the
    policy's: a risk term that exploits the critic shows as the policy's value far above the data's)."""
    return risk_value(critic(obs, actions, risk_taus, detach_params=True).float())
