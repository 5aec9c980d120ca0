"""Observation normalisation whose statistics travel with the learner's checkpoint."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def observation_statistics(observations: np.ndarray, min_std: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and standard deviation (floored at ``min_std``) of ``[R, O]`` observations."""
    return observations.mean(0), np.maximum(observations.std(0), min_std)


class ObservationNormalizer(nn.Module):
    """``(obs - mean) / std`` with persistent buffers (identity until statistics are set)."""

    def __init__(self, obs_dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(obs_dim))
        self.register_buffer("std", torch.ones(obs_dim))

    def set_statistics(self, mean: np.ndarray, std: np.ndarray) -> None:
        if mean.shape != self.mean.shape or std.shape != self.std.shape:
            raise ValueError(f"normaliser statistics must be [{self.mean.shape[0]}], got {mean.shape} and {std.shape}")
        self.mean.copy_(torch.as_tensor(mean, dtype=self.mean.dtype))
        self.std.copy_(torch.as_tensor(std, dtype=self.std.dtype))

    def forward(self, obs: Tensor) -> Tensor:
        return (obs - self.mean) / self.std
