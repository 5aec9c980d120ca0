"""Activation and layer kernels chosen for speed on CPU (BENCHMARKS.md, "What made the difference")."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

_MISH_CLAMP = 20.0  # beyond this tanh(softplus(x)) == 1 in float32


class _MishFunction(torch.autograd.Function):
    """Exact Mish ``x tanh(softplus(x))`` computed with one exponential.

    ``tanh(softplus(x)) = n / (n + 2)`` with ``n = e^x (e^x + 2)``; the derivative is
    ``t + x (1 - t²) σ(x)``. Eager ``F.mish`` on CPU costs ~2× more per call (BENCHMARKS.md). Written in the
    ``setup_context`` form with a generated vmap rule, so it also runs under ``torch.func`` transforms.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor) -> Tensor:  # type: ignore[override]
        e = torch.exp(x.clamp(max=_MISH_CLAMP))
        n = e * (e + 2.0)
        return x * (n / (n + 2.0))

    @staticmethod
    def setup_context(ctx, inputs: tuple[Tensor], output: Tensor) -> None:  # type: ignore[override]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        e = torch.exp(x.clamp(max=_MISH_CLAMP))
        n = e * (e + 2.0)
        t = n / (n + 2.0)
        sig = e / (1.0 + e)
        return grad * (t + x * (1.0 - t * t) * sig)


def mish(x: Tensor) -> Tensor:
    """Mish activation; the one-exponential kernel on CPU float32 when gradients are needed, ``F.mish``
    elsewhere (one call is cheapest for the small batches of acting)."""
    if x.device.type == "cpu" and x.dtype == torch.float32 and torch.is_grad_enabled() and x.numel() >= 4096:
        return _MishFunction.apply(x)
    return F.mish(x)


def sinusoidal_embedding(positions: Tensor, dim: int) -> Tensor:  # [L] -> [L, dim]
    """Transformer-style sinusoidal features ``[sin(p w_k), cos(p w_k)]``, ``w_k = 10000^{-k/(dim/2-1)}``."""
    if dim < 4 or dim % 2:
        raise ValueError(f"sinusoidal embedding dim must be even and >= 4, got {dim}")
    half = dim // 2
    freqs = torch.exp(torch.arange(half, device=positions.device, dtype=torch.float32)
                      * (-math.log(10000.0) / (half - 1)))
    angles = positions.float().unsqueeze(-1) * freqs
    return torch.cat((angles.sin(), angles.cos()), dim=-1)


def ensemble_head(hidden: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Per-member ``Linear(H, 1)``: ``hidden [E, R, H]``, ``weight [E, H]``, ``bias [E]`` -> ``[E, R]``.

    On CPU as ``E`` matrix-vector products over ``unbind`` slices: a batched ``bmm`` with one output
    column can be several times slower there (BENCHMARKS.md, "What made the difference"), and ``unbind``'s
    backward stacks the slice gradients where indexing would zero-fill a full ``[E, R, H]`` buffer per
    member.
    """
    if hidden.device.type == "cpu":
        rows = [torch.mv(h, w) for h, w in zip(hidden.unbind(0), weight.to(hidden.dtype).unbind(0), strict=True)]
        return torch.stack(rows) + bias.unsqueeze(-1)
    return torch.baddbmm(bias.view(-1, 1, 1), hidden, weight.unsqueeze(-1)).squeeze(-1)
