"""Lightning callbacks: reports and evaluations that run beside training."""

from ramac.callbacks.bandit import BanditReport
from ramac.callbacks.evaluation import RolloutEvaluation

__all__ = ["BanditReport", "RolloutEvaluation"]
