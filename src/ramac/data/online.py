"""The online phase's data: a device-resident buffer of environment transitions and the sampler that mixes it with
the offline table (issue 31; research note ``science-followups.md`` §3).

Each batch of ``B`` rows takes ``round(f · B)`` rows from the offline table and the other ``B − round(f · B)`` from
the online buffer, where ``f`` is the *offline fraction* of the iteration (1 − CORL's ``mixing_ratio``, 0.5 in its
fine-tuning configs); all offline rows while the online buffer is still empty. ``f`` is fixed, or annealed linearly
from its start value to 0 (:func:`offline_fraction_at`). The two parts are drawn from the iteration's generator,
offline indices first, and concatenated in that order.
"""

from __future__ import annotations

from typing import Any

import torch

from ramac.data.transitions import TransitionSampler, unpack
from ramac.types import Batch


def linear_anneal(start: float, final: float, step: int, anneal_steps: int) -> float:
    """A value ``step`` iterations into the online phase: ``final`` when ``anneal_steps`` is 0, else linear from
    ``start`` to ``final`` over ``anneal_steps`` iterations, then ``final``."""
    if anneal_steps <= 0 or step >= anneal_steps:
        return final
    return start + (final - start) * step / anneal_steps


def offline_fraction_at(step: int, start: float, anneal_steps: int) -> float:
    """The offline share of the batch ``step`` iterations into the online phase: ``start`` when ``anneal_steps``
    is 0 (fixed), else linear from ``start`` to 0 over ``anneal_steps`` iterations, then 0."""
    return start if anneal_steps <= 0 else linear_anneal(start, 0.0, step, anneal_steps)


def offline_rows(batch_size: int, fraction: float, online_size: int) -> int:
    """How many of ``batch_size`` rows come from the offline table: ``round(fraction · batch_size)``, or all of
    them while the online buffer holds no transition (Python's ``round``: half to even)."""
    if online_size == 0:
        return batch_size
    return round(fraction * batch_size)


class OnlineBuffer:
    """Transitions collected online, packed as :class:`~ramac.data.transitions.TransitionSampler` packs the offline
    table (``[s, a, r, s', terminal]`` per row, ``2·O + A + 2`` columns) in one preallocated device tensor.

    When ``capacity`` rows are held, the oldest rows are overwritten first (a ring). Rows arrive already transformed
    as the offline data are (normalised observations, scaled rewards): the caller's job.
    """

    def __init__(self, obs_dim: int, action_dim: int, capacity: int, device: torch.device | str) -> None:
        if capacity < 1:
            raise ValueError(f"online buffer capacity must be >= 1, got {capacity}")
        self.obs_dim, self.action_dim, self.capacity = obs_dim, action_dim, capacity
        self.rows = torch.zeros(capacity, 2 * obs_dim + action_dim + 2, device=device)
        self.size = 0
        self.position = 0  # next row written

    def append(self, observations: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor,
               next_observations: torch.Tensor, terminals: torch.Tensor) -> None:
        """Add ``n`` transitions: ``[n, O]``, ``[n, A]``, ``[n]``, ``[n, O]``, ``[n]``."""
        n = observations.shape[0]
        shapes = {"observations": (observations.shape, (n, self.obs_dim)),
                  "actions": (actions.shape, (n, self.action_dim)), "rewards": (rewards.shape, (n,)),
                  "next_observations": (next_observations.shape, (n, self.obs_dim)),
                  "terminals": (terminals.shape, (n,))}
        for name, (got, expected) in shapes.items():
            if tuple(got) != expected:
                raise ValueError(f"OnlineBuffer.append: '{name}' must have shape {list(expected)}, got {list(got)}")
        packed = torch.cat([observations, actions, rewards[:, None], next_observations, terminals[:, None]], dim=1)
        index = (self.position + torch.arange(n)) % self.capacity
        self.rows[index.to(self.rows.device)] = packed.to(self.rows)
        self.position = int((self.position + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": self.rows[: self.size].cpu().clone(), "position": self.position, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["capacity"]) != self.capacity:
            raise ValueError(f"the checkpoint's online buffer holds {state['capacity']} rows, the run is configured "
                             f"for {self.capacity} (online.capacity): resume with the same options")
        rows = state["rows"]
        self.size, self.position = int(rows.shape[0]), int(state["position"])
        self.rows[: self.size] = rows.to(self.rows)


class MixedSampler:
    """Batches of ``offline_rows(B, offline_fraction, buffer.size)`` offline rows followed by online ones (see the
    module docstring); ``offline_fraction`` is set by the online phase before each iteration."""

    def __init__(self, offline: TransitionSampler, buffer: OnlineBuffer, offline_fraction: float = 0.5) -> None:
        if (offline.obs_dim, offline.action_dim) != (buffer.obs_dim, buffer.action_dim):
            raise ValueError(f"online buffer dimensions {(buffer.obs_dim, buffer.action_dim)} differ from the "
                             f"offline data's {(offline.obs_dim, offline.action_dim)}")
        self.offline, self.buffer, self.offline_fraction = offline, buffer, offline_fraction
        self.batch_size, self.obs_dim, self.action_dim = offline.batch_size, offline.obs_dim, offline.action_dim

    def sample(self, generator: torch.Generator | None) -> Batch:
        n_offline = offline_rows(self.batch_size, self.offline_fraction, self.buffer.size)
        device = self.offline.packed.device
        offline_index = torch.randint(0, self.offline.size, (n_offline,), generator=generator, device=device)
        parts = [self.offline.packed.index_select(0, offline_index)]
        if n_offline < self.batch_size:
            online_index = torch.randint(0, self.buffer.size, (self.batch_size - n_offline,), generator=generator,
                                         device=device)
            parts.append(self.buffer.rows.index_select(0, online_index))
        return unpack(torch.cat(parts) if len(parts) > 1 else parts[0], self.obs_dim, self.action_dim)
