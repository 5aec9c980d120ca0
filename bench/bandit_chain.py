"""How well a DDPM reverse chain can clone the bandit's behaviour, independent of any network (issue 10 item 7).

Samples the chain with the exact denoiser of the empirical behaviour data (a mixture of point masses: the
optimal epsilon prediction ``(x - sqrt(abar) E[x0 | x_t]) / sqrt(1 - abar)``) and prints the shares of samples
in the safe centre, on the ring and between or outside the modes, per schedule and chain length.

    python bench/bandit_chain.py
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ramac.data.bandit import bandit_transitions
from ramac.envs.bandit import RING, SAFE, RiskyBandit
from ramac.generative.ddpm import DDPMSchedule, sample_actions


class ExactDenoiser:
    """The data-optimal epsilon prediction, behind the denoiser interface ``sample_actions`` uses."""

    action_dim = 2

    def __init__(self, schedule: DDPMSchedule, points: torch.Tensor) -> None:
        self.schedule, self.points = schedule, points

    def obs_features(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.zeros(obs.shape[0], 1, dtype=obs.dtype)

    def time_features(self, steps: torch.Tensor) -> torch.Tensor:  # carries the step index to `trunk`
        return steps.to(torch.float64).unsqueeze(1)

    def trunk(self, x: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        abar = self.schedule.alphas_cumprod[int(conditioning[0, 0].round())]
        dist2 = ((x[:, None, :] - math.sqrt(abar) * self.points[None]) ** 2).sum(-1)  # [B, P]
        weights = torch.softmax(-dist2 / (2 * (1 - abar)), dim=1)
        return (x - math.sqrt(abar) * (weights @ self.points)) / math.sqrt(1 - abar)


def main() -> None:
    bandit = RiskyBandit()
    points = torch.from_numpy(bandit_transitions(bandit, 4000, 0).actions).double()
    print("| schedule | T | centre | ring | between |\n|---|---|---|---|---|")
    for name, steps in (("vp", 5), ("vp", 20), ("vp", 50), ("vp", 100), ("cosine", 20), ("cosine", 50)):
        schedule = DDPMSchedule(name, steps)
        noise = torch.randn(steps + 1, 2000, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        actions = sample_actions(ExactDenoiser(schedule, points), schedule,  # type: ignore[arg-type]
                                 torch.zeros(2000, 2, dtype=torch.float64), noise, 1.0).numpy()
        region = bandit.regions(np.zeros((2000, 2)), actions)
        print(f"| {name} | {steps} | {np.mean(region == SAFE):.1%} | {np.mean(region == RING):.1%} | "
              f"{np.mean(region == 2):.1%} |", flush=True)


if __name__ == "__main__":
    main()
