"""Shared record types and the dimension glossary used in shape comments.

Glossary (used in every ``# [..]`` comment and docstring in the package):

- ``B``: batch of transitions (per device), ``O``: observation dim, ``A``: action dim,
- ``E``: critic ensemble size (2 for twin critics),
- ``N``: online quantile levels, ``M``: target quantile levels, ``K``: risk (distorted) quantile levels,
- ``T``: diffusion steps, ``H``: hidden width.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class Batch(NamedTuple):
    """A minibatch of offline transitions, all on one device."""

    observations: Tensor  # [B, O]
    actions: Tensor  # [B, A]
    rewards: Tensor  # [B]
    next_observations: Tensor  # [B, O]
    terminals: Tensor  # [B]  1.0 where the episode truly ended (not a timeout)
