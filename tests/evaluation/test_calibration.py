"""Calibration metrics against laws with known answers (issue 28, item 4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ramac.evaluation.calibration import (
    COVERAGE_LEVELS,
    coverage,
    crps,
    empirical_cvar,
    level_grid,
    predicted_cvar,
    summary,
    wasserstein1,
)

LEVELS = level_grid(400)


def _normal_case(shift: float = 0.0, pairs: int = 4, samples: int = 20_000):
    rng = np.random.default_rng(0)
    mu, sigma = rng.uniform(-50, 50, pairs), rng.uniform(1, 30, pairs)
    returns = mu[:, None] + sigma[:, None] * rng.standard_normal((pairs, samples))
    grid = mu[:, None] + sigma[:, None] * (stats.norm.ppf(LEVELS)[None, :] + shift)
    at_levels = mu[:, None] + sigma[:, None] * (stats.norm.ppf(COVERAGE_LEVELS)[None, :] + shift)
    return grid, at_levels, returns, sigma


def test_an_exact_critic_is_calibrated():
    grid, at_levels, returns, sigma = _normal_case()
    assert coverage(at_levels, returns) == pytest.approx(COVERAGE_LEVELS, abs=0.01)
    # E[CRPS] of the exact normal forecast is σ/√π (Gneiting & Raftery 2007, Eq. 5)
    assert crps(grid, returns, LEVELS) / sigma == pytest.approx(1 / math.sqrt(math.pi), rel=0.01)
    assert (wasserstein1(grid, returns, LEVELS) / sigma).max() < 0.03
    exact_cvar = -stats.norm.pdf(stats.norm.ppf(0.1)) / 0.1  # CVaR₀.₁ of N(0, 1)
    assert ((predicted_cvar(grid, LEVELS, 0.1) - grid.mean(1)) / sigma) == pytest.approx(exact_cvar, abs=0.02)
    assert ((empirical_cvar(returns, 0.1) - grid.mean(1)) / sigma) == pytest.approx(exact_cvar, abs=0.03)


def test_a_critic_shifted_by_one_sigma_shows_it_in_every_figure():
    grid, at_levels, returns, sigma = _normal_case(shift=1.0)
    assert coverage(at_levels, returns) == pytest.approx(stats.norm.cdf(stats.norm.ppf(COVERAGE_LEVELS) + 1),
                                                         abs=0.01)
    assert wasserstein1(grid, returns, LEVELS) / sigma == pytest.approx(1.0, abs=0.03)  # W₁ of a shift is the shift
    figures = summary(grid, at_levels, returns, LEVELS)
    assert figures["cvar_error_per_sigma"] == pytest.approx(1.0, abs=0.05)
    assert figures["w1_per_sigma"] == pytest.approx(1.0, abs=0.03)
    # CRPS of N(μ + σ, σ) against N(μ, σ): σ (2 φ(1)·... ) computed by numerical integration of the quantile score
    y = np.linspace(-8, 8, 4001)
    expected = np.trapezoid(stats.norm.pdf(y) * [2 * np.mean(np.where(v < stats.norm.ppf(LEVELS) + 1, 1 - LEVELS,
                                                                          -LEVELS) * (stats.norm.ppf(LEVELS) + 1 - v))
                                                 for v in y], y)
    assert figures["crps_per_sigma"] == pytest.approx(expected, rel=0.02)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="for the same P"):
        crps(np.zeros((2, 3)), np.zeros((3, 5)), level_grid(3))
    with pytest.raises(ValueError, match="no grid level below"):
        predicted_cvar(np.zeros((1, 2)), np.array([0.5, 0.9]), 0.1)
