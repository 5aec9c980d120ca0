"""Plain multilayer perceptrons."""

from __future__ import annotations

from torch import nn


def mlp(in_dim: int, out_dim: int, hidden_dim: int, hidden_layers: int = 2) -> nn.Sequential:
    """``Linear → ReLU`` × ``hidden_layers``, then ``Linear(hidden_dim, out_dim)``.

    The module indices are ``0, 2, …`` for the linear layers (``net.0``, ``net.2``, ``net.4`` with two hidden
    layers): the shipped zoo policy files are state dicts with these keys (:mod:`ramac.zoo.policy`).
    """
    if min(in_dim, out_dim, hidden_dim, hidden_layers) < 1:
        raise ValueError(f"mlp: dimensions and hidden_layers must be >= 1, got in_dim={in_dim}, out_dim={out_dim}, "
                         f"hidden_dim={hidden_dim}, hidden_layers={hidden_layers}")
    layers: list[nn.Module] = []
    width = in_dim
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, hidden_dim), nn.ReLU()]
        width = hidden_dim
    return nn.Sequential(*layers, nn.Linear(width, out_dim))
