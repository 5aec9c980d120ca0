from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
import torch

from ramac.envs.bandit import RiskyBandit
from ramac.objectives.risk import (
    DISTORTIONS,
    check_distortion,
    cpw,
    cvar,
    distort,
    distortion_density,
    empirical_distorted_value,
    power,
    risk_scale,
    wang,
)

LEVELS = torch.linspace(0, 1, 101, dtype=torch.float64)


@pytest.mark.parametrize("name", DISTORTIONS)
def test_distortions_map_unit_interval_monotonically(name):
    out = distort(LEVELS, name, cvar_alpha=0.25)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.all(out[1:] >= out[:-1])
    assert out[0].item() == pytest.approx(0.0)


def test_cvar_is_scaled_uniform_and_averages_the_lower_tail():
    assert cvar(LEVELS, 0.1).max().item() == pytest.approx(0.1)
    assert torch.equal(cvar(LEVELS, 1.0), LEVELS)
    # E[F^{-1}(alpha U)] for Z ~ U(0, 10) is the mean of the worst alpha share: 10 alpha / 2
    u = torch.rand(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert (10 * cvar(u, 0.2)).mean().item() == pytest.approx(1.0, abs=0.01)
    with pytest.raises(ValueError, match="cvar_alpha"):
        cvar(LEVELS, 0.0)


def test_wang_against_statistics_normal():
    nd = NormalDist()
    for u in (0.05, 0.3, 0.5, 0.9):
        want = nd.cdf(nd.inv_cdf(u) - 0.7)
        assert wang(torch.tensor([u], dtype=torch.float64), -0.7).item() == pytest.approx(want, rel=1e-9)
    assert torch.all(wang(LEVELS[1:-1], -0.7) < LEVELS[1:-1])  # eta < 0 is risk-averse


def test_cpw_and_power_special_cases():
    assert torch.allclose(cpw(LEVELS, 1.0), LEVELS)
    assert torch.allclose(power(LEVELS, 0.0), LEVELS)
    assert torch.all(power(LEVELS[1:-1], -2.0) < LEVELS[1:-1])  # risk-averse
    assert torch.all(power(LEVELS[1:-1], 2.0) > LEVELS[1:-1])  # risk-seeking
    assert power(torch.tensor([0.5], dtype=torch.float64), -2.0).item() == pytest.approx(1 - 0.5 ** (1 / 3))


def test_distort_defaults_and_errors():
    assert torch.allclose(distort(LEVELS, "wang", 0.1), wang(LEVELS, -0.7))
    assert torch.allclose(distort(LEVELS, "power", 0.1, param=1.0), power(LEVELS, 1.0))
    with pytest.raises(ValueError, match="distortion"):
        check_distortion("spectral", 0.1, None)
    with pytest.raises(ValueError, match="cvar_alpha"):
        check_distortion("cvar", 1.5, None)
    with pytest.raises(ValueError, match="cpw"):
        cpw(LEVELS, -1.0)


def test_distortion_density_weights_fixed_levels_like_sampled_distorted_levels():
    """``∫ w(τ) Z(τ) dτ = E_u[Z(g(u))]`` for a known quantile function ``Z = Φ^{-1}``, by midpoint quadrature."""
    levels = (torch.arange(200_000, dtype=torch.float64) + 0.5) / 200_000
    quantile = torch.special.ndtri(levels)
    for distortion, param in (("neutral", None), ("cvar", None), ("wang", -0.75), ("wang", 0.5)):
        weighted = (distortion_density(levels, distortion, 0.1, param) * quantile).mean()
        sampled = torch.special.ndtri(distort(levels, distortion, 0.1, param)).mean()
        torch.testing.assert_close(weighted, sampled, atol=2e-3, rtol=0), distortion


def test_distortion_density_is_codacs_distortion_de():
    """CODAC ``risks.py`` ``distortion_de`` written out: cvar ``(1/p) 1{τ < p}``, wang ``φ(Φ⁻¹τ + p) / φ(Φ⁻¹τ)``
    with its parameter ``p = −η``; both clamped to [0, 5] in CODAC."""
    taus = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
    x = normal.icdf(taus)
    wang_codac = normal.log_prob(x + 0.75).exp() / normal.log_prob(x).exp()
    torch.testing.assert_close(distortion_density(taus, "wang", 0.1, -0.75), wang_codac)
    torch.testing.assert_close(distortion_density(taus, "wang", 0.1, -0.75, clamp_max=5.0), wang_codac.clamp(0, 5))
    cvar_codac = (taus < 0.1).double() / 0.1
    torch.testing.assert_close(distortion_density(taus, "cvar", 0.1), cvar_codac)
    assert distortion_density(taus, "cvar", 0.1, clamp_max=5.0).max() == 5.0  # the clamp halves CVaR₀.₁'s weight
    with pytest.raises(ValueError, match="distortion_density supports"):
        distortion_density(taus, "cpw", 0.1)


def test_risk_scale_is_the_mean_absolute_per_state_risk_without_gradient():
    # two critics, two states, two levels: per-state risk = mean_k min_e Z
    z = torch.tensor([[[1.0, 3.0], [-4.0, 0.0]], [[2.0, 1.0], [-2.0, -6.0]]], requires_grad=True)  # [E=2, B=2, K=2]
    # state 0: min over critics (1, 1) -> 1; state 1: (-4, -6) -> -5; mean |.| = 3
    assert risk_scale(z).item() == pytest.approx(3.0)
    assert not risk_scale(z).requires_grad
    with pytest.raises(ValueError, match=r"\[E, B, K\]"):
        risk_scale(z[0])


@pytest.mark.parametrize("mix", [0.0, 0.3, 0.5, 1.0])
def test_mean_cvar_mix_is_lambda_mean_plus_one_minus_lambda_cvar(mix):
    """For ``Z ~ U(0, 10)`` (quantile function ``10 τ``): mean 5, CVaR₀.₂ 1; the level map's expectation is the mix,
    computed exactly by midpoint quadrature over ``u``."""
    from ramac.objectives.risk import mean_cvar

    u = (torch.arange(1_000_000, dtype=torch.float64) + 0.5) / 1_000_000
    value = (10 * mean_cvar(u, 0.2, mix)).mean().item()
    assert value == pytest.approx(mix * 5.0 + (1 - mix) * 1.0, abs=1e-6)
    assert torch.equal(mean_cvar(LEVELS, 0.2, 0.0), cvar(LEVELS, 0.2))
    assert torch.allclose(mean_cvar(LEVELS, 0.2, 1.0), LEVELS)
    # its density integrates the same functional
    weight = distortion_density(u, "mean_cvar", 0.2, param=mix)
    assert (weight * 10 * u).mean().item() == pytest.approx(value, abs=1e-5)


def test_the_empirical_distorted_value_is_the_mean_and_the_lower_tail_mean():
    samples = torch.tensor([5.0, -3.0, 2.0, 9.0, 0.0, 1.0, -7.0, 4.0, 6.0, 3.0], dtype=torch.float64)
    assert float(empirical_distorted_value(samples, "neutral", 0.1)) == pytest.approx(2.0)  # 20 / 10
    assert float(empirical_distorted_value(samples, "cvar", 0.2)) == pytest.approx(-5.0)  # (−7 − 3) / 2
    assert float(empirical_distorted_value(samples, "mean_cvar", 0.2, 0.5)) == pytest.approx(-1.5)  # ½ 2 + ½ (−5)
    with pytest.raises(ValueError, match="non-empty"):
        empirical_distorted_value(samples[:0], "cvar", 0.1)


def test_which_distortions_are_risk_averse():
    from ramac.objectives.risk import is_risk_averse

    assert is_risk_averse("cvar", 0.1) and is_risk_averse("mean_cvar", 0.1) and is_risk_averse("neutral", 0.1)
    assert is_risk_averse("wang", 0.1) and is_risk_averse("power", 0.1)  # the defaults: η = −0.7, −2
    assert not is_risk_averse("cpw", 0.1)  # 0.71: inflates the lowest levels (Dabney et al. 2018)
    assert not is_risk_averse("wang", 0.1, param=0.7) and not is_risk_averse("power", 0.1, param=2.0)
    with pytest.raises(ValueError, match="the mean's share"):
        check_distortion("mean_cvar", 0.1, 1.5)


@pytest.mark.parametrize(("distortion", "alpha", "param", "prefers_ring", "ring_value"), [
    ("neutral", 0.1, None, True, 1.9),
    ("cvar", 0.1, None, False, -10.0),
    ("cvar", 0.25, None, False, -4.47),
    ("mean_cvar", 0.1, 0.5, False, -4.05),
    ("mean_cvar", 0.1, 0.95, True, 1.305),
    ("wang", 0.1, -0.7, False, -1.19),
])
def test_which_bandit_mode_each_study_measure_prefers(distortion, alpha, param, prefers_ring, ring_value):
    """The design of conf/sweeps/risk-measures-bandit.yaml: each measure's value of the bandit's ring and centre
    rewards (100 000 sampled rewards per mode, ``E_u[Z(g(u))]`` on a grid of levels); only the 0.95·E + 0.05·CVaR₀.₁
    control, among the risk-averse measures, values the ring (mean 1.9, CVaR₀.₁ −10) above the centre (mean 1)."""
    bandit, rng = RiskyBandit(), np.random.default_rng(0)
    contexts = np.zeros((100_000, 2))
    centre = np.zeros((100_000, 2))
    ring = np.tile([[bandit.ring_radius, 0.0]], (100_000, 1))

    def value(actions):
        rewards = torch.from_numpy(bandit.rewards(contexts, actions, rng)[0])
        return float(empirical_distorted_value(rewards, distortion, alpha, param))

    ring_at, centre_at = value(ring), value(centre)
    assert ring_at == pytest.approx(ring_value, abs=0.05)
    assert (ring_at > centre_at) == prefers_ring
