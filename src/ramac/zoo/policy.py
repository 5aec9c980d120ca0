"""Zoo policies: SAC actors stored as small weight files, run over a batch of environments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


class ZooPolicy:
    """The squashed-Gaussian SAC actor of :mod:`ramac.zoo.sac` as a NumPy-in, NumPy-out batch function.

    The MLP runs in torch (float32): NumPy's threaded BLAS next to torch's OpenMP pool was measured 100×
    slower per call on a busy 2-core machine. ``rng`` given: samples ``scale · tanh(μ + σ ε)`` with ``ε``
    from ``rng``, the way the agent acted while it was trained; ``rng=None``: the mean action.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], action_scale: float) -> None:
        self.layers = [(state_dict[f"net.{i}.weight"].float().t().contiguous(), state_dict[f"net.{i}.bias"].float())
                       for i in (0, 2, 4)]
        self.action_scale = action_scale

    @classmethod
    def load(cls, path: str | Path, action_scale: float = 1.0) -> ZooPolicy:
        return cls(torch.load(path, map_location="cpu", weights_only=True), action_scale)

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        h = torch.from_numpy(np.asarray(obs, dtype=np.float32))
        for i, (w, b) in enumerate(self.layers):
            h = torch.addmm(b, h, w)
            if i < 2:
                h.clamp_min_(0.0)
        mean, log_std = h.double().numpy().copy().reshape(h.shape[0], 2, -1).transpose(1, 0, 2)
        if rng is not None:
            mean = mean + np.exp(np.clip(log_std, -20.0, 2.0)) * rng.standard_normal(mean.shape)
        return np.tanh(mean) * self.action_scale
