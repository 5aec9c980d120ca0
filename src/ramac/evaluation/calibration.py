"""Calibration of a distributional critic against Monte-Carlo returns (issue 28, item 4): pure metrics.

For ``P`` state-action pairs the critic predicts the return's quantile function ``q_p(τ)`` and ``M`` Monte-Carlo
rollouts give returns ``y_{p,1..M}`` (:mod:`ramac.evaluation.monte_carlo`). With the levels ``τ_k = (k + ½)/K`` of a
``K``-point grid:

- **coverage** at a level τ: the share of returns at or below the predicted τ-quantile,
  ``mean_{p,m} 1[y_{p,m} ≤ q_p(τ)]``; a calibrated critic has coverage τ;
- **CRPS** by its quantile-score form, ``CRPS(q, y) = 2 ∫₀¹ ρ_τ(y − q(τ)) dτ ≈ (2/K) Σ_k ρ_{τ_k}(y − q(τ_k))``
  with the pinball loss ``ρ_τ(u) = u (τ − 1[u < 0])`` (Gneiting & Raftery 2007, Eq. 21; Laio & Tamea 2007), averaged
  over the pair's returns;
- **1-Wasserstein** distance of the two laws, ``W₁ = ∫₀¹ |q(τ) − ŷ(τ)| dτ ≈ (1/K) Σ_k |q(τ_k) − ŷ(τ_k)|`` with
  ``ŷ`` the empirical quantile function of the returns (``y_(⌈τM⌉)``);
- **CVaR_α**, predicted ``mean_{τ_k < α} q(τ_k)`` against empirical (the mean of the ``⌈αM⌉`` lowest returns).

CRPS, W₁ and the CVaR error are also given divided by the pair's Monte-Carlo standard deviation (``…/σ``), so pairs
and tasks of different return scales read alike. For an exact forecast of a normal law, ``E[CRPS]/σ = 1/√π ≈ 0.564``
(the forecast's own spread; Gneiting & Raftery 2007, Eq. 5), W₁ and the CVaR error → 0.
"""

from __future__ import annotations

import math

import numpy as np

COVERAGE_LEVELS = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9)
GRID_POINTS = 100


def level_grid(points: int = GRID_POINTS) -> np.ndarray:
    """``τ_k = (k + ½)/K``, ``k = 0 … K−1``: the midpoints of ``K`` equal bins of (0, 1)."""
    return (np.arange(points) + 0.5) / points


def _check(quantiles: np.ndarray, returns: np.ndarray, levels: np.ndarray) -> None:
    if quantiles.ndim != 2 or returns.ndim != 2 or quantiles.shape[0] != returns.shape[0]:
        raise ValueError(f"quantiles must be [P, K] and returns [P, M] for the same P, got {quantiles.shape} and "
                         f"{returns.shape}")
    if quantiles.shape[1] != len(levels):
        raise ValueError(f"quantiles have {quantiles.shape[1]} levels, the grid {len(levels)}")


def coverage(quantiles: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """``[L]``: per level, the share of returns ``[P, M]`` at or below the predicted quantiles ``[P, L]``."""
    return (returns[:, None, :] <= quantiles[:, :, None]).mean(axis=(0, 2))


def crps(quantiles: np.ndarray, returns: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``[P]``: the CRPS of each pair's predicted quantile function (``[P, K]`` at the grid ``levels``) against its
    returns ``[P, M]``, averaged over the returns (quantile-score form, module docstring)."""
    _check(quantiles, returns, levels)
    error = returns[:, None, :] - quantiles[:, :, None]  # [P, K, M]
    pinball = error * (levels[None, :, None] - (error < 0))
    return 2.0 * pinball.mean(axis=(1, 2))


def empirical_quantiles(returns: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``[P, K]``: ``y_(⌈τM⌉)``, the empirical quantile function of each row of ``returns [P, M]`` at ``levels``."""
    ordered = np.sort(returns, axis=1)
    index = np.clip(np.ceil(levels * returns.shape[1]).astype(int) - 1, 0, returns.shape[1] - 1)
    return ordered[:, index]


def wasserstein1(quantiles: np.ndarray, returns: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """``[P]``: ``W₁`` between each predicted law (quantiles ``[P, K]`` at ``levels``) and its returns' law."""
    _check(quantiles, returns, levels)
    return np.abs(quantiles - empirical_quantiles(returns, levels)).mean(axis=1)


def predicted_cvar(quantiles: np.ndarray, levels: np.ndarray, alpha: float) -> np.ndarray:
    """``[P]``: ``mean_{τ_k < α} q(τ_k)``, the critic's CVaR_α on the grid."""
    chosen = levels < alpha
    if not chosen.any():
        raise ValueError(f"no grid level below α = {alpha}; use a finer grid")
    return quantiles[:, chosen].mean(axis=1)


def empirical_cvar(returns: np.ndarray, alpha: float) -> np.ndarray:
    """``[P]``: the mean of each row's ``max(1, ⌈α M⌉)`` lowest returns."""
    count = max(1, math.ceil(alpha * returns.shape[1]))
    return np.sort(returns, axis=1)[:, :count].mean(axis=1)


def summary(grid_quantiles: np.ndarray, level_quantiles: np.ndarray, returns: np.ndarray, levels: np.ndarray,
            alpha: float = 0.1) -> dict[str, float]:
    """Every figure over the ``P`` pairs: coverage at :data:`COVERAGE_LEVELS` (``level_quantiles [P, L]``), and the
    means over pairs of CRPS, W₁, the CVaR_α's predicted, empirical and error, raw and divided by each pair's
    Monte-Carlo standard deviation (``grid_quantiles [P, K]`` at ``levels``)."""
    spread = returns.std(axis=1, ddof=1) if returns.shape[1] > 1 else np.full(returns.shape[0], np.nan)
    spread = np.where(spread > 0, spread, np.nan)  # a pair with identical returns has no scale
    out = {f"coverage_{tau:g}": float(c) for tau, c in zip(COVERAGE_LEVELS, coverage(level_quantiles, returns),
                                                          strict=True)}
    scores = {"crps": crps(grid_quantiles, returns, levels), "w1": wasserstein1(grid_quantiles, returns, levels)}
    predicted, empirical = predicted_cvar(grid_quantiles, levels, alpha), empirical_cvar(returns, alpha)
    scores["cvar_error"] = predicted - empirical
    for name, values in scores.items():
        out[name] = float(values.mean())
        out[f"{name}_per_sigma"] = float(np.nanmean(values / spread)) if np.isfinite(spread).any() else math.nan
    out.update(cvar_predicted=float(predicted.mean()), cvar_empirical=float(empirical.mean()),
               return_mean=float(returns.mean()), return_sigma=float(np.nanmean(spread)), pairs=float(len(returns)))
    return out
