"""Risk distortions: maps from uniform levels ``u ~ U(0, 1)`` to distorted quantile levels.

A distortion ``g`` turns the risk-neutral expectation ``E_u[Z(u)]`` into a distorted risk measure
``E_u[Z(g(u))]`` (Dabney et al. 2018, "Implicit Quantile Networks", §3.1 and Table 1; RAMAC uses
CVaR at level 0.1, arXiv 2510.02695 Eq. 12). All functions are pure, elementwise and map [0, 1] into
[0, 1] monotonically.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import torch
from torch import Tensor

Distortion = Literal["neutral", "cvar", "mean_cvar", "wang", "cpw", "power"]
DISTORTIONS: tuple[str, ...] = get_args(Distortion)

#: Parameter used when ``distortion_param`` is not given (the released RAMAC samplers' defaults;
#: CVaR takes its level from ``cvar_alpha`` instead).
DEFAULT_DISTORTION_PARAM: dict[str, float] = {"wang": -0.7, "cpw": 0.71, "power": -2.0, "mean_cvar": 0.5}


def neutral(levels: Tensor) -> Tensor:
    """Identity distortion ``g(u) = u`` (risk-neutral mean of the return distribution)."""
    return levels


def cvar(levels: Tensor, alpha: float) -> Tensor:
    """CVaR distortion ``g(u) = alpha * u``.

    ``E_u[Z(alpha u)] = (1/alpha) ∫_0^alpha F^{-1}(v) dv = CVaR_alpha(Z)``, the mean of the worst
    ``alpha`` fraction of outcomes (Rockafellar & Uryasev 2000; RAMAC Eq. 12 risk term).
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"cvar_alpha must be in (0, 1], got {alpha}")
    return levels * alpha


def mean_cvar(levels: Tensor, alpha: float, mix: float) -> Tensor:
    r"""The spectral mix ``λ · E[Z] + (1 − λ) · CVaR_α(Z)`` (``λ = mix``; Acerbi 2002's spectral measures, research
    note ``science-followups.md`` §2.2) as a level map.

    Its level density is ``w(τ) = λ + (1 − λ) (1/α) 1{τ < α}``, whose distribution function ``G(τ) = λ τ + (1 − λ)
    min(τ/α, 1)`` is piecewise linear; ``g = G^{-1}``:

    ``g(u) = u / (λ + (1 − λ)/α)`` for ``u < G(α) = λ α + 1 − λ``, else ``g(u) = (u − (1 − λ)) / λ``,

    so ``E_u[Z(g(u))] = ∫ w(τ) Z(τ) dτ`` is the mix. ``λ = 0`` is :func:`cvar`, ``λ = 1`` :func:`neutral`.
    """
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"cvar_alpha must be in (0, 1], got {alpha}")
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"mean_cvar distortion parameter (the mean's share λ) must be in [0, 1], got {mix}")
    if mix == 0.0:  # the ends exactly as cvar and neutral compute them
        return cvar(levels, alpha)
    if mix == 1.0:
        return neutral(levels)
    knee = mix * alpha + 1.0 - mix
    return torch.where(levels < knee, levels / (mix + (1.0 - mix) / alpha), (levels - (1.0 - mix)) / mix)


def wang(levels: Tensor, eta: float) -> Tensor:
    """Wang (2000) distortion ``g(u) = Φ(Φ^{-1}(u) + eta)``; ``eta < 0`` is risk-averse."""
    return torch.special.ndtr(torch.special.ndtri(levels) + eta)


def cpw(levels: Tensor, eta: float) -> Tensor:
    """Cumulative probability weighting (Tversky & Kahneman 1992).

    ``g(u) = u^eta / (u^eta + (1 - u)^eta)^(1/eta)``; ``eta = 0.71`` is the classic fit.
    """
    if eta <= 0:
        raise ValueError(f"cpw distortion parameter must be > 0, got {eta}")
    up = levels.pow(eta)
    return up / (up + (1.0 - levels).pow(eta)).pow(1.0 / eta)


def power(levels: Tensor, eta: float) -> Tensor:
    """Power distortion (Dabney et al. 2018, Table 1).

    ``g(u) = u^(1/(1+|eta|))`` for ``eta >= 0`` (risk-seeking) and
    ``g(u) = 1 - (1 - u)^(1/(1+|eta|))`` for ``eta < 0`` (risk-averse).
    """
    exponent = 1.0 / (1.0 + abs(eta))
    if eta >= 0:
        return levels.pow(exponent)
    return 1.0 - (1.0 - levels).pow(exponent)


def distort(levels: Tensor, distortion: Distortion, cvar_alpha: float, param: float | None = None) -> Tensor:
    """Apply the named distortion. ``param`` overrides the default parameter of wang/cpw/power."""
    if distortion == "neutral":
        return neutral(levels)
    if distortion == "cvar":
        return cvar(levels, cvar_alpha)
    if distortion not in DEFAULT_DISTORTION_PARAM:
        raise ValueError(f"unknown distortion {distortion!r}; expected one of {DISTORTIONS}")
    value = DEFAULT_DISTORTION_PARAM[distortion] if param is None else param
    if distortion == "mean_cvar":
        return mean_cvar(levels, cvar_alpha, value)
    return {"wang": wang, "cpw": cpw, "power": power}[distortion](levels, value)


def is_risk_averse(distortion: Distortion, cvar_alpha: float, param: float | None = None, grid: int = 100_001) -> bool:
    r"""Whether the distorted expectation never exceeds the mean, for every return distribution: ``g(u) ≤ u`` for
    every level ``u`` (then ``Z(g(u)) ≤ Z(u)`` for every quantile function ``Z``; conversely a level with ``g(u) > u``
    gives a distribution whose distorted value is above its mean). Checked on a grid of ``grid`` levels in float64.
    CVaR, the mean–CVaR mix, Wang with ``η < 0`` and power with ``η < 0`` are; CPW at 0.71 is not: it inflates the
    lowest levels (``g(u) ≈ u^0.71 > u``) and so overweights the best outcomes too (Dabney et al. 2018, §3.1)."""
    levels = torch.linspace(0.0, 1.0, grid, dtype=torch.float64)
    return bool((distort(levels, distortion, cvar_alpha, param) <= levels + 1e-12).all())


def empirical_distorted_value(samples: Tensor, distortion: Distortion, cvar_alpha: float, param: float | None = None,
                              levels: int = 20_000) -> Tensor:  # samples [n] -> []
    r"""The distorted expectation ``E_u[Z(g(u))]`` of an empirical law, ``Z`` the quantile function of ``samples``
    (``Z(τ)`` = the ``⌊τ n⌋``-th smallest sample), on ``levels`` mid-point levels ``u_l = (l + ½) / L``:
    ``(1/L) Σ_l Z(g(u_l))``. With ``neutral`` it is the sample mean; with ``cvar`` at ``α`` (``α n`` a whole number,
    ``α L`` too) the mean of the ``α n`` smallest samples."""
    if samples.dim() != 1 or samples.numel() == 0:
        raise ValueError(f"samples must be a non-empty [n] tensor, got {tuple(samples.shape)}")
    ordered = samples.sort().values
    grid = (torch.arange(levels, dtype=torch.float64) + 0.5) / levels
    index = (distort(grid, distortion, cvar_alpha, param) * ordered.numel()).long().clamp(max=ordered.numel() - 1)
    return ordered[index].mean()


def distortion_density(levels: Tensor, distortion: Distortion, cvar_alpha: float, param: float | None = None,
                       clamp_max: float | None = None) -> Tensor:
    r"""Weight ``w(τ) = d g^{-1}(τ) / dτ`` of the quantile at level ``τ``, so that ``∫ w(τ) Z(τ) dτ = E_u[Z(g(u))]``
    with ``g`` the level map of :func:`distort` (CODAC/DSAC ``risks.py`` ``distortion_de``, which weights quantiles
    at fixed levels instead of sampling distorted ones):

    - ``neutral``: ``1``; ``cvar``: ``(1/α) 1{τ < α}``; ``mean_cvar`` with share ``λ``: ``λ + (1 − λ) (1/α) 1{τ < α}``;
    - ``wang`` with parameter ``η``: ``φ(Φ^{-1}(τ) − η) / φ(Φ^{-1}(τ))`` (CODAC's ``wang`` with parameter ``p`` is
      ours with ``η = −p``).

    ``clamp_max`` caps the weight (CODAC clamps to ``[0, 5]``, which halves the CVaR₀.₁ weight of ``1/α = 10``).
    ``cpw`` and ``power`` have no closed-form inverse here and are refused.
    """
    if distortion == "neutral":
        weight = torch.ones_like(levels)
    elif distortion == "cvar":
        if not 0.0 < cvar_alpha <= 1.0:
            raise ValueError(f"cvar_alpha must be in (0, 1], got {cvar_alpha}")
        weight = (levels < cvar_alpha).to(levels.dtype) / cvar_alpha
    elif distortion == "mean_cvar":
        mix = DEFAULT_DISTORTION_PARAM["mean_cvar"] if param is None else param
        weight = mix + (1.0 - mix) * (levels < cvar_alpha).to(levels.dtype) / cvar_alpha
    elif distortion == "wang":
        eta = DEFAULT_DISTORTION_PARAM["wang"] if param is None else param
        x = torch.special.ndtri(levels.clamp(0.0, 1.0))
        weight = torch.exp(eta * x - 0.5 * eta**2)  # φ(x − η) / φ(x)
    else:
        raise ValueError(f"distortion_density supports 'neutral', 'cvar', 'mean_cvar' and 'wang', got {distortion!r}")
    return weight if clamp_max is None else weight.clamp(0.0, clamp_max)


def check_distortion(distortion: str, cvar_alpha: float, param: float | None) -> None:
    """Validate distortion settings early, with the option names in the message."""
    if distortion not in DISTORTIONS:
        raise ValueError(f"distortion={distortion!r} is not known; expected one of {DISTORTIONS}")
    if distortion in ("cvar", "mean_cvar") and not 0.0 < cvar_alpha <= 1.0:
        raise ValueError(f"cvar_alpha must be in (0, 1], got {cvar_alpha}")
    if distortion == "mean_cvar" and param is not None and not 0.0 <= param <= 1.0:
        raise ValueError(f"distortion_param (the mean's share λ of mean_cvar) must be in [0, 1], got {param}")
    if param is not None and not math.isfinite(param):
        raise ValueError(f"distortion_param must be finite, got {param}")


def risk_value(quantiles: Tensor) -> Tensor:  # quantiles [E, B, K] at distorted levels -> []
    r"""Monte-Carlo risk estimate ``(1/(B K)) Σ_{b,k} min_e Z_e(s_b, a_b; g(u_k))``.

    With the CVaR distortion ``g(u) = alpha u`` this estimates ``CVaR_alpha`` of the (minimum-of-twins)
    return distribution at the policy's action (RAMAC Eq. 12).
    """
    if quantiles.dim() != 3:
        raise ValueError(f"quantiles must be [E, B, K], got {tuple(quantiles.shape)}")
    return quantiles.amin(0).mean()


def risk_scale(quantiles: Tensor) -> Tensor:  # quantiles [E, B, K] -> [], no gradient
    r"""``stopgrad((1/B) Σ_b |(1/K) Σ_k min_e Z_e(s_b, a_b; g(u_k))|)``: the batch's mean absolute per-state risk, the
    divisor of RADAC's ``normalize_risk`` option (an adaptation: Diffusion-QL divides its Q term by ``E|Q|`` the same
    way, ``agents/ql_diffusion.py``; RAMAC's released code does not normalise, research note §1.2)."""
    if quantiles.dim() != 3:
        raise ValueError(f"quantiles must be [E, B, K], got {tuple(quantiles.shape)}")
    return quantiles.detach().amin(0).mean(-1).abs().mean()


def scheduled_risk_weight(iteration: int, risk_weight: float, warmup_iterations: int, ramp_iterations: int) -> float:
    """Risk weight after warm-up: 0 before ``warmup_iterations``, then a linear ramp to ``risk_weight``.

    ``w(i) = risk_weight * min(1, (i - warmup) / max(1, ramp))`` for ``i >= warmup`` (released code,
    ``agents/radac.py``; with ``ramp_iterations = 0`` this is a switch one iteration after warm-up).
    """
    if iteration < warmup_iterations:
        return 0.0
    return risk_weight * min(1.0, (iteration - warmup_iterations) / max(1, ramp_iterations))
