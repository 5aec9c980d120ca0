"""Zoo policies: SAC actors stored as small weight files, run in NumPy over a batch of environments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class NumpyPolicy:
    """The squashed-Gaussian SAC actor of :mod:`ramac.zoo.sac` evaluated with NumPy (``[n, O] -> [n, A]``).

    ``deterministic=False`` samples ``scale · tanh(μ + σ ε)`` with ``ε`` from the caller's generator, the
    way the agent acted while it was trained.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], action_scale: float) -> None:
        self.layers = [(state_dict[f"net.{i}.weight"].double().numpy().T, state_dict[f"net.{i}.bias"].double().numpy())
                       for i in (0, 2, 4)]
        self.action_scale = action_scale

    @classmethod
    def load(cls, path: str | Path, action_scale: float = 1.0) -> NumpyPolicy:
        return cls(torch.load(path, map_location="cpu", weights_only=True), action_scale)

    def __call__(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        h = obs
        for i, (w, b) in enumerate(self.layers):
            h = h @ w + b
            if i < 2:
                np.maximum(h, 0.0, out=h)
        mean, log_std = np.split(h, 2, axis=-1)
        if rng is not None:
            mean = mean + np.exp(np.clip(log_std, -20.0, 2.0)) * rng.standard_normal(mean.shape)
        return np.tanh(mean) * self.action_scale
