"""Lightning callbacks: reports and evaluations that run beside training."""

from ramac.callbacks.bandit import BanditReport

__all__ = ["BanditReport"]
