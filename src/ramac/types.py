"""Shared record types, the ``Agent`` protocol, and the glossary of shape letters.

Glossary (every ``# [..]`` shape comment and docstring in the package uses these; extend it before using a
new letter, and never give a letter a second meaning):

- ``B``: transitions in a batch (per device); ``R``: rows of a dataset; ``V``: episodes or environments run
  together in an evaluation;
- ``O``: observation dim; ``A``: action dim; ``H``: hidden width; ``D``: IQN embedding width; ``C``: IQN
  cosine features; ``F``: IQN head width (O-RAAC);
- ``E``: members of a critic ensemble (2 for twin critics);
- ``N``: online quantile levels; ``M``: target quantile levels; ``K``: risk (distorted) quantile levels;
- ``T``: diffusion steps; ``L``: a list of step indices; ``P``: actions sampled per state (CQL/CODAC);
  ``Z``: latent dim (VAE).
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch
from torch import Tensor


class Batch(NamedTuple):
    """A minibatch of offline transitions, all on one device."""

    observations: Tensor  # [B, O]
    actions: Tensor  # [B, A]
    rewards: Tensor  # [B]
    next_observations: Tensor  # [B, O]
    terminals: Tensor  # [B]  1.0 where the episode truly ended (not a timeout)


class Agent(Protocol):
    """What evaluation needs of a trained learner: its acting rule, its observation normaliser, its device, and
    the ``train``/``eval`` switch (every :class:`ramac.learners.base.OfflineLearner` is one)."""

    device: torch.device
    training: bool

    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor: ...  # [V, O] -> [V, A]

    def obs_normalizer(self, obs: Tensor) -> Tensor: ...  # [V, O] -> [V, O]

    def train(self, mode: bool = True) -> Agent: ...

    def eval(self) -> Agent: ...
