"""Scalar temporal-difference targets and losses for Q critics (shapes in :mod:`ramac.types`)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

Aggregate = Literal["min", "mean"]


def td_target(rewards: Tensor, terminals: Tensor, next_q: Tensor, discount: float,
              aggregate: Aggregate = "min") -> Tensor:  # [B], [B], [E, B] -> [B]
    r"""``y = r + γ (1 − d) agg_e Q̄_e(s', a')`` with ``agg`` the minimum over the ensemble (clipped double Q:
    Diffusion-QL ``ql_diffusion.py``, CQL) or the mean (FQL's default ``q_agg``)."""
    if next_q.dim() != 2 or next_q.shape[1] != rewards.shape[0]:
        raise ValueError(f"next_q must be [E, B] with B = {rewards.shape[0]}, got {tuple(next_q.shape)}")
    if rewards.shape != terminals.shape or rewards.dim() != 1:
        raise ValueError(f"rewards and terminals must both be [B]; got {tuple(rewards.shape)}, "
                         f"{tuple(terminals.shape)}")
    if aggregate == "min":
        value = next_q.amin(0)
    elif aggregate == "mean":
        value = next_q.mean(0)
    else:
        raise ValueError(f"aggregate must be 'min' or 'mean', got {aggregate!r}")
    return rewards + discount * (1.0 - terminals) * value


def mse_td_loss(q: Tensor, target: Tensor) -> Tensor:  # [E, B], [B] -> [E]
    """Per member ``mean_b (Q_e(s_b, a_b) − y_b)²``; the sum over members is the loss of both critics
    (Diffusion-QL ``F.mse_loss(q1, y) + F.mse_loss(q2, y)``)."""
    if q.dim() != 2 or target.shape != q.shape[1:]:
        raise ValueError(f"q must be [E, B] and target [B]; got {tuple(q.shape)}, {tuple(target.shape)}")
    return (q - target.detach()).square().mean(-1)


def normalized_q_loss(q: Tensor, scale: Tensor) -> Tensor:  # [B], [B] -> []
    r"""``−mean Q / stopgrad(mean |Q'|)``: the policy-improvement term with its scale removed (Diffusion-QL
    ``ql_diffusion.py``: ``q1`` over ``|q2|`` or the reverse, at random; FQL ``normalize_q_loss`` with ``Q' = Q``)."""
    return -q.mean() / scale.abs().mean().detach()
