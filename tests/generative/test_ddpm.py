from __future__ import annotations

import math

import pytest
import torch

from ramac.actors.diffusion import DiffusionActor
from ramac.generative.ddpm import DDPMSchedule, epsilon_loss, make_betas, sample_actions
from ramac.nn.denoiser import Denoiser


def test_vp_schedule_matches_closed_form():
    betas = make_betas("vp", 5)
    for t, beta in enumerate(betas, start=1):
        assert beta == pytest.approx(1 - math.exp(-0.1 / 5 - 0.5 * 9.9 * (2 * t - 1) / 25))
    assert betas[0] == pytest.approx(0.19587455833, rel=1e-9)
    schedule = DDPMSchedule("vp", 5)
    assert schedule.alphas_cumprod[-1] == pytest.approx(0.00640933, rel=1e-5)
    assert all(0 < b < 1 for b in make_betas("cosine", 10) + make_betas("linear", 10))
    with pytest.raises(ValueError, match="beta_schedule"):
        make_betas("sigmoid", 5)  # type: ignore[arg-type]


def test_q_sample():
    schedule = DDPMSchedule("vp", 5)
    x0, noise = torch.ones(2, 3), torch.full((2, 3), 2.0)
    out = schedule.q_sample(x0, torch.tensor([0, 4]), noise)
    for row, t in ((0, 0), (1, 4)):
        abar = schedule.alphas_cumprod[t]
        assert out[row, 0].item() == pytest.approx(math.sqrt(abar) + 2 * math.sqrt(1 - abar))


class _Oracle(Denoiser):
    """Exact noise predictor for a point mass at ``x_star`` (needs the current step from the caller)."""

    def __init__(self, schedule: DDPMSchedule, x_star: torch.Tensor) -> None:
        super().__init__(1, x_star.shape[1], hidden_dim=4)
        self.schedule, self.x_star = schedule, x_star
        self.steps = list(reversed(range(schedule.steps)))

    def trunk(self, noisy_actions, conditioning):
        t = self.steps.pop(0)
        return (noisy_actions - self.schedule.sqrt_abar[t] * self.x_star) / self.schedule.sqrt_one_minus_abar[t]


def test_reverse_chain_with_exact_noise_prediction_returns_the_data_point():
    schedule = DDPMSchedule("vp", 5)
    x_star = torch.tensor([[0.3, -0.5]])
    noise = torch.randn(6, 1, 2, generator=torch.Generator().manual_seed(3))
    out = sample_actions(_Oracle(schedule, x_star), schedule, torch.zeros(1, 1), noise, max_action=1.0)
    assert torch.allclose(out, x_star, atol=1e-6)


def test_epsilon_loss_matches_definition():
    torch.manual_seed(0)
    schedule = DDPMSchedule("vp", 5)
    net = Denoiser(3, 2, hidden_dim=16)
    obs, act, t, noise = torch.randn(6, 3), torch.rand(6, 2), torch.randint(0, 5, (6,)), torch.randn(6, 2)
    want = (net(schedule.q_sample(act, t, noise), t, obs) - noise).square().mean()
    assert epsilon_loss(net, schedule, obs, act, t, noise).item() == pytest.approx(want.item(), rel=1e-5)


def test_seeded_sampler_regression():
    torch.manual_seed(0)
    actor = DiffusionActor(obs_dim=3, action_dim=2, hidden_dim=32, max_action=3.0)
    obs = torch.linspace(-1, 1, 6).view(2, 3)
    first = actor.sample(obs, torch.Generator().manual_seed(7))
    again = actor.sample(obs, torch.Generator().manual_seed(7))
    assert torch.equal(first, again)
    expected = torch.tensor(REGRESSION)
    assert torch.allclose(first, expected, atol=1e-5), first.tolist()
    assert first.abs().max() <= 3.0


def test_actor_gradients_flow_through_every_denoising_step():
    torch.manual_seed(0)
    actor = DiffusionActor(obs_dim=3, action_dim=2, hidden_dim=16, max_action=10.0)
    seen = []
    original = actor.denoiser.trunk

    def recording(x, cond):
        eps = original(x, cond)
        eps.register_hook(lambda g: seen.append(g.abs().sum().item()))
        return eps

    actor.denoiser.trunk = recording
    actor.sample(torch.randn(4, 3), torch.Generator().manual_seed(0)).sum().backward()
    assert len(seen) == 5 and all(v > 0 for v in seen)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())


REGRESSION = [[-3.0, -0.13712048530578613], [-0.17249003052711487, -1.9095675945281982]]


@pytest.mark.parametrize(("schedule", "steps"), [("vp", 5), ("vp", 20), ("cosine", 10), ("linear", 8)])
def test_posterior_coefficients_against_gaussian_conditioning(schedule, steps):
    """q(x_{t-1} | x_t, x_0) obtained independently, by conditioning the joint Gaussian of (x_{t-1}, x_t) given
    x_0 (x_{t-1} = sqrt(abar_{t-1}) x_0 + sqrt(1 - abar_{t-1}) e1, x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) e2):
    mean = sqrt(abar_{t-1}) x_0 + C / V (x_t - sqrt(abar_t) x_0), variance = v_prev - C^2 / V."""
    sched = DDPMSchedule(schedule, steps)
    betas = torch.tensor(make_betas(schedule, steps), dtype=torch.float64)
    for t in range(steps):
        abar_prev = float(torch.prod(1 - betas[:t]))  # empty product: 1 at t = 0
        v_prev = 1 - abar_prev
        cov = math.sqrt(1 - float(betas[t])) * v_prev  # Cov(x_{t-1}, x_t | x_0)
        var_t = (1 - float(betas[t])) * v_prev + float(betas[t])  # Var(x_t | x_0)
        gain = cov / var_t
        abar_t = abar_prev * (1 - float(betas[t]))
        # mean = gain x_t + (sqrt(abar_prev) - gain sqrt(abar_t)) x_0
        assert sched.posterior_coef_xt[t] == pytest.approx(gain, rel=1e-9, abs=1e-12)
        assert sched.posterior_coef_x0[t] == pytest.approx(math.sqrt(abar_prev) - gain * math.sqrt(abar_t), rel=1e-9)
        variance = v_prev - cov * cov / var_t
        assert sched.posterior_std[t] == pytest.approx(math.sqrt(max(variance, 1e-20)), rel=1e-6, abs=1e-10)
        assert sched.alphas_cumprod[t] == pytest.approx(abar_t, rel=1e-12)
