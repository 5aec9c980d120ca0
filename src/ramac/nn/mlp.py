"""Plain multilayer perceptrons."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from ramac.nn.functional import mish

Activation = Literal["relu", "mish", "gelu"]


class Mish(nn.Module):
    """Mish with ramac's CPU kernel (:func:`ramac.nn.functional.mish`)."""

    def forward(self, x: Tensor) -> Tensor:
        return mish(x)


_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": lambda: nn.ReLU(inplace=True),  # in place: the same values, one buffer less (BENCHMARKS.md, CQL)
    "mish": Mish,
    "gelu": nn.GELU,
}


def mlp(in_dim: int, out_dim: int, hidden_dim: int, hidden_layers: int = 2, activation: Activation = "relu",
        layer_norm: bool = False, xavier_init: bool = False) -> nn.Sequential:
    """``Linear → activation [→ LayerNorm]`` × ``hidden_layers``, then ``Linear(hidden_dim, out_dim)``.

    ``layer_norm`` puts a LayerNorm after each hidden activation and ``xavier_init`` draws the weights
    Xavier-uniform with zero biases (FQL ``utils/networks.py``: ``variance_scaling(1, fan_avg, uniform)``).
    Without LayerNorm the linear layers sit at indices ``0, 2, …`` (``net.0``, ``net.2``, ``net.4`` with two hidden
    layers): the shipped zoo policy files are state dicts with these keys (:mod:`ramac.zoo.policy`).
    """
    if min(in_dim, out_dim, hidden_dim, hidden_layers) < 1:
        raise ValueError(f"mlp: dimensions and hidden_layers must be >= 1, got in_dim={in_dim}, out_dim={out_dim}, "
                         f"hidden_dim={hidden_dim}, hidden_layers={hidden_layers}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"mlp: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_dim), _ACTIVATIONS[activation]()]
        if layer_norm:
            layers.append(nn.LayerNorm(hidden_dim))
        width = hidden_dim
    net = nn.Sequential(*layers, nn.Linear(width, out_dim))
    if xavier_init:
        for layer in net:
            if isinstance(layer, nn.Linear):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
    return net


class LogScalar(nn.Module):
    """A learnable positive scalar ``exp(log_value)``: SAC's entropy temperature, CQL's Lagrange multiplier."""

    def __init__(self, initial: float) -> None:
        super().__init__()
        if not initial > 0:
            raise ValueError(f"LogScalar: initial value must be > 0, got {initial}")
        self.log_value = nn.Parameter(torch.tensor(math.log(initial)))

    def forward(self) -> Tensor:  # []
        return self.log_value.exp()
