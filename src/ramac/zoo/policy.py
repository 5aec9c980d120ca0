"""Zoo policies: SAC actors stored as small weight files, run over a batch of environments."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ramac.zoo import exact

GENERATIONS = (1, 2)
GENERATION = 2  # the default: the CPU-independent arithmetic of ramac.zoo.exact (README "Data")


class ZooPolicy:
    """The squashed-Gaussian SAC actor of :mod:`ramac.zoo.sac` as a NumPy-in, NumPy-out batch function.

    ``rng`` given: samples ``scale · tanh(μ + σ ε)`` with ``ε`` from ``rng``, the way the agent acted while it
    was trained; ``rng=None``: the mean action. ``generation`` fixes the arithmetic:

    - 2 (default): :class:`ramac.zoo.exact.ExactMLP`, ``exp``/``tanh`` and polar-method normals of
      :mod:`ramac.zoo.exact`, bit-identical on every CPU;
    - 1: the MLP in float32 through torch (MKL's sgemm, whose kernel depends on the CPU), NumPy's ``exp``,
      ``tanh`` and ziggurat normals: the datasets of the first studies, reproducible only on a CPU of the
      kind that made them (README "Data").

    Both run the MLP in torch: NumPy's threaded BLAS next to torch's OpenMP pool was measured 100× slower per
    call on a busy 2-core machine.
    """

    def __init__(self, state_dict: dict[str, torch.Tensor], action_scale: float, generation: int = GENERATION) -> None:
        if generation not in GENERATIONS:
            raise ValueError(f"zoo generation must be one of {GENERATIONS}, got {generation}")
        self.layers = [(state_dict[f"net.{i}.weight"].float().t().contiguous(), state_dict[f"net.{i}.bias"].float())
                       for i in (0, 2, 4)]
        self.action_scale = action_scale
        self.exact_mlp = exact.ExactMLP(self.layers) if generation == 2 else None

    @classmethod
    def load(cls, path: str | Path, action_scale: float = 1.0, generation: int = GENERATION) -> ZooPolicy:
        return cls(torch.load(path, map_location="cpu", weights_only=True), action_scale, generation)

    def __call__(self, obs: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:  # [B, O] -> [B, A]
        if self.exact_mlp is not None:
            return self._exact(obs, rng)
        return self._float32(obs, rng)

    def _exact(self, obs: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        out = self.exact_mlp(obs)  # type: ignore[misc]
        mean, log_std = out.reshape(out.shape[0], 2, -1).transpose(1, 0, 2)
        if rng is not None:
            noise = exact.standard_normal(rng, mean.size).reshape(mean.shape)
            mean = mean + exact.exp(np.clip(log_std, -20.0, 2.0)) * noise
        return exact.tanh(mean) * self.action_scale

    @torch.inference_mode()
    def _float32(self, obs: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        h = torch.from_numpy(np.asarray(obs, dtype=np.float32))
        for i, (w, b) in enumerate(self.layers):
            h = torch.addmm(b, h, w)
            if i < 2:
                h.clamp_min_(0.0)
        mean, log_std = h.double().numpy().copy().reshape(h.shape[0], 2, -1).transpose(1, 0, 2)
        if rng is not None:
            mean = mean + np.exp(np.clip(log_std, -20.0, 2.0)) * rng.standard_normal(mean.shape)
        return np.tanh(mean) * self.action_scale
