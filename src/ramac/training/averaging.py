"""Parameter averaging for target networks and the EMA actor."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def soft_update_(target: nn.Module, source: nn.Module, rate: float) -> None:
    """Polyak update ``θ_targ <- (1 - rate) θ_targ + rate θ`` over all parameters, in place.

    Used for the critic targets (``rate = target_update_rate``) and the EMA actor
    (``rate = 1 - ema_decay``). Buffers are not averaged.
    """
    target_params = list(target.parameters())
    source_params = [p.detach() for p in source.parameters()]
    if len(target_params) != len(source_params):
        raise ValueError("soft_update_: target and source have different parameter lists")
    torch._foreach_lerp_(target_params, source_params, rate)
