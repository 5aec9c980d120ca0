"""Episode metrics, synchronised across DDP ranks with torchmetrics."""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics import Metric

from ramac.evaluation.ood import KAPPA_GRID


def lower_tail_mean(returns: Tensor, alpha: float) -> Tensor:
    """Empirical CVaR_alpha of episode returns: the mean of the worst ``ceil(alpha · n)`` returns."""
    if returns.numel() == 0:
        raise ValueError("lower_tail_mean: no returns")
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    count = max(1, math.ceil(alpha * returns.numel() - 1e-9))
    return returns.flatten().sort().values[:count].mean()


class EpisodeMetrics(Metric):
    """Collects finished episodes (on every rank) and computes the evaluation figures over all of them."""

    full_state_update = False

    def __init__(self, cvar_alpha: float = 0.1, synchronise: bool = True) -> None:
        super().__init__(sync_on_compute=synchronise)
        self.cvar_alpha = cvar_alpha
        for name in ("returns", "lengths", "risky_steps", "penalties"):
            self.add_state(name, default=[], dist_reduce_fx="cat")
        self.add_state("ood_actions", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("scored_actions", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("ood_by_kappa", default=torch.zeros(len(KAPPA_GRID), dtype=torch.float64),
                       dist_reduce_fx="sum")  # OOD counts at each κ of KAPPA_GRID

    def update(self, returns: Tensor, lengths: Tensor, risky_steps: Tensor, penalties: Tensor,  # all [n]
               ood_actions: float = 0.0, scored_actions: float = 0.0, ood_by_kappa: Tensor | None = None) -> None:
        self.returns.append(returns.double().flatten())
        self.lengths.append(lengths.double().flatten())
        self.risky_steps.append(risky_steps.double().flatten())
        self.penalties.append(penalties.double().flatten())
        self.ood_actions += ood_actions
        self.scored_actions += scored_actions
        if ood_by_kappa is not None:
            self.ood_by_kappa += ood_by_kappa.to(self.ood_by_kappa)

    def compute(self) -> dict[str, Tensor]:
        def cat(x: list[Tensor] | Tensor) -> Tensor:
            return torch.cat(x) if isinstance(x, list) else x

        returns, lengths = cat(self.returns), cat(self.lengths)
        risky, penalties = cat(self.risky_steps), cat(self.penalties)
        out = {
            "episodes": torch.tensor(float(returns.numel())),
            "return_mean": returns.mean(),
            f"return_cvar_{self.cvar_alpha:g}": lower_tail_mean(returns, self.cvar_alpha),
            "return_min": returns.min(),
            "return_std": returns.std(unbiased=False),
            "episode_length": lengths.mean(),
            "risky_state_rate": risky.sum() / lengths.sum(),
            "penalties_per_episode": penalties.mean(),
            "returns": returns,  # every episode's return (all ranks): pooled statistics across runs
        }
        if self.scored_actions > 0:
            out["ood_action_rate"] = self.ood_actions / self.scored_actions
            for kappa, count in zip(KAPPA_GRID, self.ood_by_kappa, strict=True):
                out[f"ood_action_rate_kappa_{kappa:g}"] = count / self.scored_actions
        return out
