"""What every actor offers a learner (shapes in :mod:`ramac.types`).

- ``sample(obs, generator)``: a reparameterised sample, differentiable w.r.t. the actor's parameters;
- ``actions_from_noise(obs, noise)``: the same map from given noise (``sample_noise``'s shape), deterministic,
  so two networks can be fed the same noise (FQL's distillation) and evaluations can be seeded;
- ``bc_loss(obs, actions, generator)``: the behaviour-cloning loss on dataset actions, a scalar;
- ``sample_with_log_prob`` (``LogProbActor`` only): a sample and its log-density, for entropy-regularised
  learners.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class Actor(Protocol):
    action_dim: int
    max_action: float

    def sample_noise(self, batch: int, generator: torch.Generator | None, device: torch.device) -> Tensor: ...

    def sample(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor: ...  # [B, O] -> [B, A]

    def actions_from_noise(self, obs: Tensor, noise: Tensor) -> Tensor: ...  # [B, O], noise -> [B, A]

    def bc_loss(self, obs: Tensor, actions: Tensor, generator: torch.Generator | None = None) -> Tensor: ...  # []


@runtime_checkable
class LogProbActor(Actor, Protocol):
    def sample_with_log_prob(self, obs: Tensor, generator: torch.Generator | None = None
                             ) -> tuple[Tensor, Tensor]: ...  # [B, O] -> [B, A], [B]
