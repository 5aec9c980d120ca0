"""Gradient utilities shared by learners and callbacks: clipping and cross-process averaging."""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


def clip_grad_norm_(params: list[nn.Parameter], max_norm: float, ensemble_size: int | None = None) -> Tensor:
    """Clip gradients to ``max_norm`` in place and return the norm(s) measured before clipping.

    With ``ensemble_size`` the parameters are stacked ``[E, ...]`` and each member is clipped on its
    own (exactly like one ``clip_grad_norm_`` call per critic in the released code); the result is
    then ``[E]``. No host synchronisation: the coefficient stays a tensor.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        raise RuntimeError("clip_grad_norm_: no parameter has a gradient")
    if ensemble_size is None:
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        if max_norm > 0:
            torch._foreach_mul_(grads, (max_norm / (norm + 1e-6)).clamp(max=1.0))
        return norm
    squares = torch.stack([g.reshape(ensemble_size, -1).square().sum(1) for g in grads]).sum(0)  # [E]
    norms = squares.sqrt()
    if max_norm > 0:
        coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.view(-1, *([1] * (g.dim() - 1))))
    return norms


def average_gradients(params: list[nn.Parameter], world_size: int) -> None:
    """All-reduce the mean of the gradients over ``world_size`` processes (no-op for one process)."""
    if world_size <= 1 or not dist.is_available() or not dist.is_initialized():
        return
    grads = [p.grad for p in params if p.grad is not None]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat.div_(world_size)
    torch._foreach_copy_(grads, [chunk.view_as(g) for chunk, g in zip(flat.split([g.numel() for g in grads]), grads,
                                                                      strict=True)])
