"""Offline data of the 2-D risky bandit (behaviour data generated in memory, seeded)."""

from __future__ import annotations

import numpy as np

from ramac.data.datamodule import OfflineDataModule
from ramac.data.transitions import Transitions
from ramac.envs.bandit import RiskyBandit


def bandit_transitions(bandit: RiskyBandit, size: int, seed: int) -> Transitions:
    """``size`` one-step transitions of ``bandit``'s behaviour policy (every step is terminal)."""
    if size < 1:
        raise ValueError(f"bandit dataset size must be >= 1, got {size}")
    rng = np.random.default_rng(seed)
    contexts = bandit.sample_contexts(size, rng)
    actions = bandit.sample_behaviour(contexts, rng)
    rewards, _ = bandit.rewards(contexts, actions, rng)
    kind = "contextual" if bandit.contextual else "plain"
    return Transitions(contexts, actions, rewards, contexts.copy(), np.ones(size),
                       source=f"risky-bandit({kind}, size={size}, seed={seed})")


class BanditDataModule(OfflineDataModule):
    """Offline data of :class:`ramac.envs.bandit.RiskyBandit`.

    Args:
        contextual: use the contextual variant (the context moves the modes).
        dataset_size: number of behaviour transitions.
        dataset_seed: seed of the behaviour draws and rewards.
        batch_size, iterations_per_epoch, reward_scale: see :class:`OfflineDataModule`.
    """

    def __init__(self, contextual: bool = False, dataset_size: int = 10_000, dataset_seed: int = 0,
                 batch_size: int = 256, iterations_per_epoch: int = 500, reward_scale: float = 1.0) -> None:
        super().__init__(batch_size=batch_size, iterations_per_epoch=iterations_per_epoch, reward_scale=reward_scale)
        self.bandit = RiskyBandit(contextual=contextual)
        self.dataset_size, self.dataset_seed = dataset_size, dataset_seed

    def load_transitions(self) -> Transitions:
        return bandit_transitions(self.bandit, self.dataset_size, self.dataset_seed)
