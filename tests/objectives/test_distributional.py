from __future__ import annotations

import numpy as np
import pytest
import torch

from ramac.objectives.distributional import distributional_td_target, huber, quantile_fractions, quantile_huber_loss
from ramac.objectives.risk import risk_value, scheduled_risk_weight


def reference_quantile_huber(pred, target, taus, kappa, pairing):
    """Loop-by-loop NumPy version of Dabney et al. (2018) Eq. 10 (and the released pairing)."""
    batch, n_pred = pred.shape
    n_target = target.shape[1]
    total = 0.0
    for b in range(batch):
        for i in range(n_pred):
            for j in range(n_target):
                d = target[b, j] - pred[b, i]
                h = 0.5 * d * d if abs(d) <= kappa else kappa * (abs(d) - 0.5 * kappa)
                level = taus[i] if pairing == "standard" else taus[j]
                total += abs(level - (d < 0)) * h / kappa / n_target
    return total / batch


@pytest.mark.parametrize("pairing", ["standard", "released"])
@pytest.mark.parametrize("kappa", [1.0, 0.5])
def test_quantile_huber_matches_numpy_reference(pairing, kappa):
    rng = np.random.default_rng(0)
    pred = rng.normal(size=(2, 5, 6)) * 2
    target = rng.normal(size=(5, 6)) * 2
    taus = rng.random(6)
    got = quantile_huber_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(taus), kappa, pairing)
    assert got.shape == (2,)
    for e in range(2):
        want = reference_quantile_huber(pred[e], target, taus, kappa, pairing)
        assert got[e].item() == pytest.approx(want, rel=1e-10)


def test_quantile_huber_per_sample_levels_and_target_count():
    rng = np.random.default_rng(1)
    pred, target, taus = rng.normal(size=(4, 3)), rng.normal(size=(4, 7)), rng.random((4, 3))
    got = quantile_huber_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(taus))
    want = np.mean([reference_quantile_huber(pred[b:b + 1], target[b:b + 1], taus[b], 1.0, "standard")
                    for b in range(4)])
    assert got.item() == pytest.approx(want, rel=1e-10)


def test_quantile_huber_gradient_is_the_quantile_regression_gradient():
    # For |delta| > kappa the derivative w.r.t. pred_i is (1{y < z} - tau_i) * kappa / kappa / M.
    pred = torch.tensor([[0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[5.0, -5.0, 7.0]], dtype=torch.float64)
    taus = torch.tensor([0.1, 0.9], dtype=torch.float64)
    quantile_huber_loss(pred, target, taus).backward()
    expected = [((-0.1) + (1 - 0.1) + (-0.1)) / 3, ((-0.9) + (1 - 0.9) + (-0.9)) / 3]
    assert pred.grad[0].tolist() == pytest.approx(expected)


def test_quantile_huber_rejects_bad_shapes():
    with pytest.raises(ValueError, match="taus must be"):
        quantile_huber_loss(torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(5))
    with pytest.raises(ValueError, match="M == N"):
        quantile_huber_loss(torch.zeros(4, 3), torch.zeros(4, 5), torch.zeros(3), pairing="released")
    with pytest.raises(ValueError, match="target must be"):
        quantile_huber_loss(torch.zeros(4, 3), torch.zeros(5, 3), torch.zeros(3))


def _fit_quantile_function(pairing: str, steps: int = 1500) -> torch.Tensor:
    """Fit a piecewise-linear quantile function to a return-like bimodal law with IQN updates."""
    generator = torch.Generator().manual_seed(0)
    values = torch.zeros(21, requires_grad=True)
    optimizer = torch.optim.Adam([values], lr=0.05)
    for _ in range(steps):
        taus = torch.rand(16, generator=generator)
        hazard = torch.rand(64, 16, generator=generator) < 0.1
        target = torch.where(hazard, -4.0 + 0.2 * torch.randn(64, 16, generator=generator),
                             2.0 + 0.2 * torch.randn(64, 16, generator=generator))
        pos = taus * 20
        low = pos.floor().clamp(max=19).long()
        frac = pos - low
        z = values[low] * (1 - frac) + values[low + 1] * frac  # [N]
        loss = quantile_huber_loss(z.expand(64, 16), target, taus, pairing=pairing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return values.detach()


def test_standard_pairing_recovers_the_lower_tail_and_released_pairing_does_not():
    truth_q05, truth_q50 = -4.0, 2.0  # 10% mass near -4, 90% near 2
    standard = _fit_quantile_function("standard")
    assert standard[1].item() == pytest.approx(truth_q05, abs=0.5)  # knot at tau = 0.05
    assert standard[10].item() == pytest.approx(truth_q50, abs=0.3)
    cvar_standard = standard[:3].mean().item()  # knots at 0, 0.05, 0.1
    assert cvar_standard < -2.0
    released = _fit_quantile_function("released")
    # the released pairing collapses every level towards one value: no lower tail
    assert released[1].item() > 0.5
    assert (released.max() - released.min()).item() < 1.0


def test_distributional_td_target_min_terminal_and_clip():
    rewards = torch.tensor([1.0, 2.0])
    terminals = torch.tensor([0.0, 1.0])
    next_z = torch.tensor([[[10.0, 0.0], [5.0, 5.0]], [[4.0, 3.0], [9.0, 9.0]]])  # [E=2, B=2, M=2]
    got = distributional_td_target(rewards, terminals, next_z, discount=0.5)
    assert got.tolist() == [[1.0 + 0.5 * 4.0, 1.0 + 0.5 * 0.0], [2.0, 2.0]]
    clipped = distributional_td_target(rewards, terminals, next_z, discount=0.5, clip=(1.5, 2.5))
    assert clipped.tolist() == [[2.5, 1.5], [2.0, 2.0]]
    with pytest.raises(ValueError, match="next_quantiles"):
        distributional_td_target(rewards, terminals, torch.zeros(2, 3, 2), 0.9)


def test_risk_value_and_huber():
    z = torch.tensor([[[1.0, 2.0]], [[0.0, 5.0]]])  # [E=2, B=1, K=2]
    assert risk_value(z).item() == pytest.approx((0.0 + 2.0) / 2)
    assert huber(torch.tensor([0.5, -3.0]), 1.0).tolist() == [0.125, 2.5]


def test_scheduled_risk_weight():
    assert scheduled_risk_weight(99, 0.05, 100, 0) == 0.0
    assert scheduled_risk_weight(100, 0.05, 100, 0) == 0.0  # released formula: switch one step later
    assert scheduled_risk_weight(101, 0.05, 100, 0) == 0.05
    assert scheduled_risk_weight(150, 0.05, 100, 100) == pytest.approx(0.025)
    assert scheduled_risk_weight(10_000, 0.05, 100, 100) == 0.05


def test_weighted_level_mean_loss_against_dsacs_loop():
    """``target_weights`` + ``level_reduction="mean"``: DSAC/CODAC's ``quantile_regression_loss`` written as loops
    (smooth-L1 × |τ̂_i − 1{z_i > y_j}| × w_j, summed over j, averaged over b and i)."""
    rng = np.random.default_rng(3)
    pred, target = rng.normal(size=(2, 5, 4)), rng.normal(size=(5, 6))
    taus, weights = rng.uniform(size=(5, 4)), rng.dirichlet(np.ones(6), size=5)
    expected = np.zeros(2)
    for e in range(2):
        total = 0.0
        for b in range(5):
            for i in range(4):
                for j in range(6):
                    d = pred[e, b, i] - target[b, j]
                    smooth_l1 = 0.5 * d * d if abs(d) < 1 else abs(d) - 0.5
                    total += abs(taus[b, i] - float(d > 0)) * smooth_l1 * weights[b, j]
        expected[e] = total / (5 * 4)
    got = quantile_huber_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(taus),
                              target_weights=torch.tensor(weights), level_reduction="mean")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    plain = quantile_huber_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(taus))
    uniform = quantile_huber_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(taus),
                                  target_weights=torch.full((5, 6), 1 / 6, dtype=torch.float64), level_reduction="mean")
    torch.testing.assert_close(uniform * 4, plain)  # uniform weights and a level sum are the plain loss
    with pytest.raises(ValueError, match="target_weights must be"):
        quantile_huber_loss(torch.tensor(pred), torch.tensor(target), torch.tensor(taus), target_weights=torch.ones(5))


def test_quantile_fractions_against_codacs_get_tau():
    generator = torch.Generator().manual_seed(0)
    tau_hat, widths = quantile_fractions(7, 5, generator, torch.device("cpu"))
    presum = torch.rand((7, 5), generator=torch.Generator().manual_seed(0)) + 0.1
    presum = presum / presum.sum(-1, keepdim=True)
    tau = presum.cumsum(1)
    expected = torch.cat((tau[:, :1] / 2, (tau[:, 1:] + tau[:, :-1]) / 2), 1)  # codac.py get_tau, as written
    torch.testing.assert_close(widths, presum)
    torch.testing.assert_close(tau_hat, expected)
    assert (tau_hat > 0).all() and (tau_hat < 1).all() and (tau_hat.diff(dim=1) > 0).all()
