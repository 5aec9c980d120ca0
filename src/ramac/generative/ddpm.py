"""DDPM with epsilon prediction over a few steps (Ho et al. 2020; Diffusion-QL's "vp" schedule).

Indices are 0-based as in the released code: step ``t = 0..T-1`` has ``ᾱ_t = Π_{k<=t} (1 - β_k)``.
Forward: ``x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε``. Reverse (``t = T-1 .. 0``):
``x̂_0 = clip(x_t / sqrt(ᾱ_t) - sqrt(1/ᾱ_t - 1) ε_θ, ±max_action)``,
``x_{t-1} = c1_t x̂_0 + c2_t x_t + 1{t>0} σ_t z`` with the DDPM posterior coefficients, then a final
clamp to the action box. The random numbers of a whole chain are one tensor ``noise [T+1, B, A]``
(``noise[0]`` is ``x_T``; ``noise[T - t]`` is the posterior noise at step ``t``), so a chain is a
deterministic function of its noise, and gradients flow through every denoising step.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ramac.nn.denoiser import ConditionalField

BetaSchedule = Literal["vp", "linear", "cosine"]


def make_betas(schedule: BetaSchedule, steps: int) -> list[float]:
    """Noise levels ``β_1..β_T``.

    ``vp``: ``β_t = 1 - exp(-b_min/T - (b_max - b_min)(2t - 1)/(2T²))``, b_min = 0.1, b_max = 10
    (Song et al. 2021 VP-SDE discretised; Diffusion-QL ``vp_beta_schedule``).
    ``linear``: ``linspace(1e-4, 2e-2, T)``. ``cosine``: Nichol & Dhariwal (2021), s = 0.008.
    """
    if steps < 1:
        raise ValueError(f"diffusion_steps must be >= 1, got {steps}")
    if schedule == "vp":
        b_min, b_max = 0.1, 10.0
        return [1.0 - math.exp(-b_min / steps - 0.5 * (b_max - b_min) * (2 * t - 1) / steps**2)
                for t in range(1, steps + 1)]
    if schedule == "linear":
        return torch.linspace(1e-4, 2e-2, steps, dtype=torch.float64).tolist()
    if schedule == "cosine":
        s = 0.008
        f = [math.cos((k / steps + s) / (1 + s) * math.pi / 2) ** 2 for k in range(steps + 1)]
        return [min(1.0 - f[k + 1] / f[k], 0.999) for k in range(steps)]
    raise ValueError(f"beta_schedule must be one of 'vp', 'linear', 'cosine'; got {schedule!r}")


class DDPMSchedule:
    """Coefficients of a ``T``-step DDPM, as Python floats (no device syncs, graph friendly)."""

    def __init__(self, schedule: BetaSchedule = "vp", steps: int = 5) -> None:
        self.name, self.steps = schedule, steps
        betas = make_betas(schedule, steps)
        abar, prod = [], 1.0
        for beta in betas:
            prod *= 1.0 - beta
            abar.append(prod)
        abar_prev = [1.0, *abar[:-1]]
        self.betas = betas
        self.alphas_cumprod = abar
        self.sqrt_abar = [math.sqrt(a) for a in abar]
        self.sqrt_one_minus_abar = [math.sqrt(1.0 - a) for a in abar]
        self.sqrt_recip_abar = [math.sqrt(1.0 / a) for a in abar]
        self.sqrt_recipm1_abar = [math.sqrt(1.0 / a - 1.0) for a in abar]
        variance = [b * (1.0 - ap) / (1.0 - a) for b, a, ap in zip(betas, abar, abar_prev, strict=True)]
        self.posterior_std = [math.exp(0.5 * math.log(max(v, 1e-20))) for v in variance]
        self.posterior_coef_x0 = [b * math.sqrt(ap) / (1.0 - a)
                                  for b, a, ap in zip(betas, abar, abar_prev, strict=True)]
        self.posterior_coef_xt = [(1.0 - ap) * math.sqrt(1.0 - b) / (1.0 - a)
                                  for b, a, ap in zip(betas, abar, abar_prev, strict=True)]

    def q_sample(self, x0: Tensor, timesteps: Tensor, noise: Tensor) -> Tensor:  # [B, A], [B], [B, A]
        """Forward noising ``x_t = sqrt(ᾱ_t) x_0 + sqrt(1 - ᾱ_t) ε`` for per-sample steps ``t``."""
        sqrt_abar = x0.new_tensor(self.sqrt_abar)[timesteps].unsqueeze(-1)
        sqrt_1m = x0.new_tensor(self.sqrt_one_minus_abar)[timesteps].unsqueeze(-1)
        return sqrt_abar * x0 + sqrt_1m * noise


def sample_actions(
    denoiser: ConditionalField,
    schedule: DDPMSchedule,
    obs: Tensor,  # [B, O]
    noise: Tensor,  # [T+1, B, A]
    max_action: float,
    clip_denoised: bool = True,
) -> Tensor:  # [B, A]
    """Run the full reverse chain from ``x_T = noise[0]``; differentiable w.r.t. the denoiser and ``obs``."""
    steps = schedule.steps
    if noise.shape != (steps + 1, obs.shape[0], denoiser.action_dim):
        raise ValueError(f"noise must be [T+1={steps + 1}, B={obs.shape[0]}, A={denoiser.action_dim}], "
                         f"got {tuple(noise.shape)}")
    obs_part = denoiser.obs_features(obs)  # [B, H], once per chain
    time_part = denoiser.time_features(torch.arange(steps, device=obs.device))  # [T, H], once per chain
    x = noise[0]
    for t in reversed(range(steps)):
        eps = denoiser.trunk(x, obs_part + time_part[t])
        x0 = schedule.sqrt_recip_abar[t] * x - schedule.sqrt_recipm1_abar[t] * eps
        if clip_denoised:
            x0 = x0.clamp(-max_action, max_action)
        x = schedule.posterior_coef_x0[t] * x0 + schedule.posterior_coef_xt[t] * x
        if t > 0:
            x = x + schedule.posterior_std[t] * noise[steps - t]
    return x.clamp(-max_action, max_action)


def epsilon_loss(
    denoiser: ConditionalField,
    schedule: DDPMSchedule,
    obs: Tensor,  # [B, O]
    actions: Tensor,  # [B, A]  dataset actions x_0
    timesteps: Tensor,  # [B] int in [0, T)
    noise: Tensor,  # [B, A]
) -> Tensor:  # []
    r"""Behaviour-cloning loss ``E ||ε_θ(sqrt(ᾱ_t) a + sqrt(1-ᾱ_t) ε, t, s) - ε||²`` (mean over B and A).

    This is the DDPM simplified objective (Ho et al. 2020, Eq. 14), a bound on ``-log π_θ(a|s)``, i.e.
    the forward-KL BC term ``L_BC`` of RAMAC Eq. 12.
    """
    noisy = schedule.q_sample(actions, timesteps, noise)
    # Row lookup with `embedding`, not `table[timesteps]`: the backward of advanced indexing accumulates
    # with parallel atomic adds on CPU, whose order (hence float rounding) varies from run to run with
    # two or more threads; embedding's backward is deterministic and no slower (BENCHMARKS.md).
    time_table = denoiser.time_features(torch.arange(schedule.steps, device=obs.device))  # [T, H]
    time_part = F.embedding(timesteps, time_table)  # [B, H]
    eps = denoiser.trunk(noisy, denoiser.obs_features(obs) + time_part)
    return (eps - noise).square().mean()
