"""Flow matching on the linear path (Lipman et al. 2023; Liu et al. 2023, rectified flow), as FQL uses it.

Noise ``x_0 ~ N(0, I)`` at ``t = 0`` and data ``x_1 = a`` at ``t = 1``; the path ``x_t = (1 − t) x_0 + t x_1``
has velocity ``x_1 − x_0``. A field ``v(s, x_t, t)`` is trained by ``E ||v(s, x_t, t) − (x_1 − x_0)||²`` and
sampled with ``K`` Euler steps ``x ← x + v(s, x, k/K) / K``, ``k = 0..K−1`` (FQL ``agents/fql.py``,
``compute_flow_actions``). ``t`` is a raw scalar ``[B, 1]`` (FQL ``utils/networks.py``, ``ActorVectorField``).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor


class VelocityField(Protocol):
    def __call__(self, obs: Tensor, x: Tensor, t: Tensor) -> Tensor: ...  # [B, O], [B, A], [B, 1] -> [B, A]


def euler_sample(field: VelocityField, obs: Tensor, noise: Tensor, steps: int) -> Tensor:  # [B, O], [B, A] -> [B, A]
    """``K = steps`` Euler steps of ``dx/dt = v(s, x, t)`` from ``x_0 = noise``; differentiable w.r.t. the field."""
    if steps < 1:
        raise ValueError(f"flow_steps must be >= 1, got {steps}")
    if noise.dim() != 2 or noise.shape[0] != obs.shape[0]:
        raise ValueError(f"noise must be [B={obs.shape[0]}, A], got {tuple(noise.shape)}")
    x = noise
    for k in range(steps):
        t = torch.full((x.shape[0], 1), k / steps, device=x.device, dtype=x.dtype)
        x = x + field(obs, x, t) / steps
    return x


def flow_matching_loss(field: VelocityField, obs: Tensor, actions: Tensor, noise: Tensor, times: Tensor) -> Tensor:
    r"""``mean ||v(s, (1−t) x_0 + t a, t) − (a − x_0)||²`` over ``B`` and ``A`` (FQL ``fql.py``, "BC flow loss").

    Shapes: ``obs [B, O]``, ``actions [B, A]`` (``x_1``), ``noise [B, A]`` (``x_0``), ``times [B, 1]`` in [0, 1].
    """
    if noise.shape != actions.shape or times.shape != (actions.shape[0], 1):
        raise ValueError(f"noise must be {tuple(actions.shape)} and times [{actions.shape[0]}, 1]; got "
                         f"{tuple(noise.shape)}, {tuple(times.shape)}")
    x_t = (1.0 - times) * noise + times * actions
    return (field(obs, x_t, times) - (actions - noise)).square().mean()
