"""Pure loss and target functions of RAMAC's distributional critic and risk-aware actor.

Nothing here owns parameters or optimizers; every function is a tensor-in, tensor-out map that the
learners compose and the tests check against NumPy references.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

QuantilePairing = Literal["standard", "released"]
LevelReduction = Literal["sum", "mean"]


def huber(delta: Tensor, kappa: float = 1.0) -> Tensor:
    """Huber function ``L_kappa(d) = d²/2`` if ``|d| <= kappa`` else ``kappa (|d| - kappa/2)``."""
    abs_delta = delta.abs()
    return torch.where(abs_delta <= kappa, 0.5 * delta.square(), kappa * (abs_delta - 0.5 * kappa))


def quantile_huber_loss(
    pred: Tensor,  # [..., B, N]  online quantiles Z(s, a; tau_i)
    target: Tensor,  # [B, M]      TD target samples (detached)
    taus: Tensor,  # [N] or [B, N]  levels tau_i at which `pred` was evaluated
    kappa: float = 1.0,
    pairing: QuantilePairing = "standard",
    target_weights: Tensor | None = None,  # [B, M]  weights of the target samples (each row sums to 1)
    level_reduction: LevelReduction = "sum",
) -> Tensor:  # [...]  one loss per leading index (e.g. per critic)
    r"""Quantile-Huber loss of IQN (Dabney et al. 2018, Eq. 3 / 10).

    .. math::
        \mathcal L = \frac{1}{B}\sum_b \sum_{i=1}^{N} \frac{1}{M} \sum_{j=1}^{M}
        \big|\tau_i - \mathbb 1\{\delta_{bij} < 0\}\big| \, \frac{L_\kappa(\delta_{bij})}{\kappa},
        \qquad \delta_{bij} = y_{bj} - Z(s_b, a_b; \tau_i).

    ``pairing="standard"`` is the IQN pairing above: each level ``tau_i`` weights the predicted
    quantile it was evaluated at. ``pairing="released"`` reproduces the released RAMAC code
    (``agents/radac.py`` ``quantile_huber_loss``), which weights by the level indexed with the
    *target* sample ``j`` (README "Differences from the released code"); it needs ``M == N`` and makes
    the learned quantiles collapse towards one τ-independent value. Use it only to reproduce the released code.

    Two variants of the same loss, for the baselines that use them:

    - ``target_weights`` replaces the uniform ``1/M`` over target samples by given weights ``w_bj`` (CODAC /
      DSAC ``dsac.py`` ``quantile_regression_loss``: the widths ``τ'_j − τ'_{j−1}`` of the target levels);
    - ``level_reduction="mean"`` averages over the ``N`` levels instead of summing (O-RAAC ``losses.py``
      ``quantile_huber_loss`` and DSAC take a mean over every index, i.e. this loss divided by ``N``).
    """
    if target.dim() != 2 or pred.shape[-2] != target.shape[0]:
        raise ValueError(f"target must be [B, M] with B = pred.shape[-2]; got pred {tuple(pred.shape)}, "
                         f"target {tuple(target.shape)}")
    n_pred = pred.shape[-1]
    if taus.shape[-1] != n_pred or taus.dim() not in (1, 2):
        raise ValueError(f"taus must be [N] or [B, N] with N = {n_pred}; got {tuple(taus.shape)}")
    if pairing not in ("standard", "released"):
        raise ValueError(f"pairing must be 'standard' or 'released', got {pairing!r}")
    if level_reduction not in ("sum", "mean"):
        raise ValueError(f"level_reduction must be 'sum' or 'mean', got {level_reduction!r}")
    if target_weights is not None and target_weights.shape != target.shape:
        raise ValueError(f"target_weights must be [B, M] = {tuple(target.shape)}, got {tuple(target_weights.shape)}")
    # [..., B, N, M]
    delta = target.unsqueeze(-2) - pred.unsqueeze(-1)
    if pairing == "standard":
        weight_levels = taus.unsqueeze(-1)  # [N, 1] or [B, N, 1]: tau_i follows the predicted index
    else:
        if target.shape[1] != n_pred:
            raise ValueError("pairing='released' needs as many target samples as predicted quantiles "
                             f"(M == N); got M={target.shape[1]}, N={n_pred}")
        weight_levels = taus.unsqueeze(-2)  # [1, N] or [B, 1, N]: tau follows the target index (as released)
    weight = (weight_levels - (delta.detach() < 0).to(delta.dtype)).abs()
    per_pair = weight * huber(delta, kappa) / kappa  # [..., B, N, M]
    if target_weights is None:
        per_level = per_pair.mean(-1)  # [..., B, N]
    else:
        per_level = (per_pair * target_weights.detach().unsqueeze(-2)).sum(-1)
    per_sample = per_level.sum(-1) if level_reduction == "sum" else per_level.mean(-1)
    return per_sample.mean(-1)


def distributional_td_target(
    rewards: Tensor,  # [B]
    terminals: Tensor,  # [B]     1.0 at true episode ends
    next_quantiles: Tensor,  # [E, B, M]  target critics at (s', a'; tau'_j)
    discount: float,
    clip: tuple[float, float] | None = None,
) -> Tensor:  # [B, M]
    r"""Distributional TD target with the element-wise minimum over the target ensemble.

    ``y_j = clip(r + discount (1 - d) min_e Z_e^{targ}(s', a'; tau'_j), lo, hi)``
    (RAMAC Eq. 10; released ``agents/radac.py``: the minimum is taken per quantile level).
    """
    if next_quantiles.dim() != 3 or next_quantiles.shape[1] != rewards.shape[0]:
        raise ValueError(f"next_quantiles must be [E, B, M] with B = {rewards.shape[0]}; "
                         f"got {tuple(next_quantiles.shape)}")
    if rewards.shape != terminals.shape or rewards.dim() != 1:
        raise ValueError(f"rewards and terminals must both be [B]; got {tuple(rewards.shape)}, "
                         f"{tuple(terminals.shape)}")
    target = rewards.unsqueeze(-1) + discount * (1.0 - terminals).unsqueeze(-1) * next_quantiles.amin(0)
    if clip is not None:
        target = target.clamp(clip[0], clip[1])
    return target


def quantile_fractions(batch: int, levels: int, generator: torch.Generator | None, device: torch.device,
                       floor: float = 0.1) -> tuple[Tensor, Tensor]:  # -> tau_hat [B, N], widths [B, N]
    r"""Random quantile fractions of DSAC/CODAC (``codac.py`` ``get_tau``, ``tau_type="iqn"``): widths
    ``w_i = (u_i + floor) / Σ_k (u_k + floor)``, ``u ~ U(0, 1)^N`` per sample (the floor keeps levels apart),
    boundaries ``τ_i = Σ_{k ≤ i} w_k`` and the midpoints ``τ̂_i = (τ_{i−1} + τ_i) / 2`` (``τ_0 = 0``) at which the
    quantiles are evaluated; the widths weight them (``Σ_i w_i Z(τ̂_i)`` estimates the mean)."""
    widths = torch.rand((batch, levels), generator=generator, device=device) + floor
    widths = widths / widths.sum(-1, keepdim=True)
    boundaries = widths.cumsum(-1)
    return boundaries - 0.5 * widths, widths
