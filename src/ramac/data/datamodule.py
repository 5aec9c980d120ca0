"""Lightning data modules for offline RL.

The data module loads and validates a :class:`~ramac.data.transitions.Transitions` table and builds
the device-resident :class:`~ramac.data.transitions.TransitionSampler`. Its ``train_dataloader``
yields only iteration ticks: the learner draws each minibatch inside ``training_step`` from a
generator keyed on ``(seed, rank, iteration)``. So batches never pass through a collate function, a
prefetched batch can never desynchronise a resumed run, and every DDP rank draws different data.

``batch_size`` is the **global** batch: under DDP with W processes each rank draws
``batch_size / W`` transitions and gradients are averaged across ranks, so one update uses
``batch_size`` transitions whatever the number of devices (the paper's 256 by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, IterableDataset

from ramac.data.transitions import Transitions, TransitionSampler


class _Ticks(IterableDataset):
    """An endless stream of zeros; ``len`` sets the epoch length seen by Lightning."""

    def __init__(self, length: int) -> None:
        self.length = length

    def __iter__(self) -> Iterator[int]:
        while True:
            yield 0

    def __len__(self) -> int:
        return self.length


class OfflineDataModule(pl.LightningDataModule):
    """Base class: subclasses implement :meth:`load_transitions` (and may set :attr:`max_action`).

    Args:
        batch_size: global minibatch size (split evenly across DDP ranks).
        iterations_per_epoch: epoch length in iterations (for progress display and epoch-based hooks).
        reward_scale: factor ``c`` on every training reward, penalties included (``r → c r``): the scale test of
            RADAC's raw risk term (README "Results"). Evaluation returns stay in the environment's units; a learner's
            reward-dependent settings (RADAC's ``target_clip``) must be scaled with it in the config.
    """

    def __init__(self, batch_size: int = 256, iterations_per_epoch: int = 1000, reward_scale: float = 1.0) -> None:
        super().__init__()
        if not reward_scale > 0:
            raise ValueError(f"data.reward_scale must be > 0, got {reward_scale}")
        self.reward_scale = reward_scale
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        if iterations_per_epoch < 1:
            raise ValueError(f"data.iterations_per_epoch must be >= 1, got {iterations_per_epoch}")
        self.batch_size = batch_size
        self.iterations_per_epoch = iterations_per_epoch

    # -- to implement -------------------------------------------------------------------------
    def load_transitions(self) -> Transitions:
        raise NotImplementedError

    @property
    def max_action(self) -> float:
        """Bound of the (symmetric) action box."""
        return 1.0

    # -- derived ------------------------------------------------------------------------------
    @cached_property
    def transitions(self) -> Transitions:
        transitions = self.load_transitions()
        if self.reward_scale == 1.0:
            return transitions
        return replace(transitions, rewards=transitions.rewards * self.reward_scale,
                       source=f"{transitions.source} (rewards × {self.reward_scale:g})")

    @property
    def obs_dim(self) -> int:
        return self.transitions.obs_dim

    @property
    def action_dim(self) -> int:
        return self.transitions.action_dim

    def describe(self) -> dict[str, Any]:
        """What data the run uses; subclasses add their options (computed once, see ``description``)."""
        data = self.transitions
        return {"source": data.source, "transitions": len(data), "sha256": data.checksum(),
                "reward_scale": self.reward_scale}

    @cached_property
    def description(self) -> dict[str, Any]:
        """What data the run uses (recorded in the checkpoint and the hyperparameter logs)."""
        return self.describe()

    def make_sampler(self, device: torch.device, world_size: int = 1) -> TransitionSampler:
        if self.batch_size % world_size:
            raise ValueError(f"data.batch_size={self.batch_size} is the global batch and must be divisible by "
                             f"the number of processes ({world_size})")
        return TransitionSampler(self.transitions, self.batch_size // world_size, device)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(_Ticks(self.iterations_per_epoch), batch_size=None, num_workers=0)

    def state_dict(self) -> dict[str, Any]:
        return {"data": self.description}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict.get("data", {})
        current = self.description
        if saved and saved.get("sha256") != current["sha256"]:
            raise ValueError(f"the checkpoint was trained on different data: saved {saved}, current {current}. "
                             "Resume with the same data options (or start a new run).")
