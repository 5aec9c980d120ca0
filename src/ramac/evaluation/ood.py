"""State-conditioned nearest-neighbour OOD-action detector (our definition; RAMAC's is unpublished).

RAMAC reports "state-conditioned OOD action rates ... using a nearest-neighbor detector with κ=3"
(arXiv 2510.02695, §5) without the exact rule. Ours, for a policy action ``a`` at a visited state ``s``:

1. ``N_k(s)``: the ``k`` dataset states nearest to ``s`` (Euclidean, states standardised per dimension
   with the dataset's standard deviation);
2. ``d(s, a) = min_{j ∈ N_k(s)} ||a - a_j||``: distance to the nearest action taken at those states;
3. ``r(s) = mean_{j ∈ N_k(s)} min_{i ∈ N_k(s), i ≠ j} ||a_j - a_i||``: the typical spacing of the data's
   own actions there;
4. ``a`` is OOD when ``d(s, a) > κ · max(r(s), min_spacing)``.

The index (standardised states and actions) is built once and kept on the device; queries run in chunks
with an exact k-nearest-neighbour search (``torch.cdist`` + ``topk``). :meth:`NearestNeighbourOOD.exceedances`
counts the flags at several κ from one search: the evaluation records the rate at every κ of :data:`KAPPA_GRID`
beside the configured one, so a report can show how a ranking moves with κ (RAMAC's κ = 3 is a choice).
"""

from __future__ import annotations

import torch
from torch import Tensor

KAPPA_GRID = (1.0, 2.0, 3.0, 5.0, 10.0)  # the κ at which every evaluation also records the OOD rate


class NearestNeighbourOOD:
    """Args: dataset ``states [R, O]`` and ``actions [R, A]``; ``k`` neighbours; ``kappa``; ``device``."""

    def __init__(self, states: Tensor, actions: Tensor, k: int = 10, kappa: float = 3.0,
                 min_spacing: float = 1e-3, device: torch.device | str = "cpu", chunk: int = 65_536) -> None:
        if states.dim() != 2 or actions.dim() != 2 or states.shape[0] != actions.shape[0]:
            raise ValueError(f"states [R, O] and actions [R, A] expected, got {tuple(states.shape)}, "
                             f"{tuple(actions.shape)}")
        if not 2 <= k <= states.shape[0]:
            raise ValueError(f"k must be in [2, N={states.shape[0]}], got {k}")
        if kappa <= 0:
            raise ValueError(f"kappa must be > 0, got {kappa}")
        self.k, self.kappa, self.min_spacing, self.chunk = k, kappa, min_spacing, chunk
        states = states.to(device=device, dtype=torch.float32)
        self.scale = states.std(0).clamp_min(1e-6)
        self.states = states / self.scale
        self.actions = actions.to(device=device, dtype=torch.float32)

    def neighbours(self, states: Tensor) -> Tensor:  # [S, O] -> [S, k] dataset indices
        query = states.to(self.states) / self.scale
        best_d = torch.full((query.shape[0], 0), float("inf"), device=query.device)
        best_i = torch.zeros((query.shape[0], 0), dtype=torch.long, device=query.device)
        for start in range(0, self.states.shape[0], self.chunk):
            block = self.states[start:start + self.chunk]
            d = torch.cdist(query, block)
            d_top, i_top = d.topk(min(self.k, block.shape[0]), dim=1, largest=False)
            best_d = torch.cat([best_d, d_top], 1)
            best_i = torch.cat([best_i, i_top + start], 1)
            best_d, order = best_d.topk(min(self.k, best_d.shape[1]), dim=1, largest=False)
            best_i = best_i.gather(1, order)
        return best_i

    @torch.no_grad()
    def distances(self, states: Tensor, actions: Tensor, query_chunk: int = 1024) -> tuple[Tensor, Tensor]:
        """``d(s, a)`` and ``max(r(s), min_spacing)`` (module docstring) for each pair: ``[S]``, ``[S]``."""
        if states.shape[0] != actions.shape[0] or actions.shape[1] != self.actions.shape[1]:
            raise ValueError(f"states [S, O] and actions [S, {self.actions.shape[1]}] expected, got "
                             f"{tuple(states.shape)}, {tuple(actions.shape)}")
        distance, spacing = [], []
        for start in range(0, states.shape[0], query_chunk):
            s = states[start:start + query_chunk]
            a = actions[start:start + query_chunk].to(self.actions)
            neighbour_actions = self.actions[self.neighbours(s)]  # [S, k, A]
            distance.append((neighbour_actions - a.unsqueeze(1)).norm(dim=-1).amin(1))  # [S]
            pairwise = torch.cdist(neighbour_actions, neighbour_actions)  # [S, k, k]
            pairwise.diagonal(dim1=1, dim2=2).fill_(float("inf"))
            spacing.append(pairwise.amin(2).mean(1).clamp_min(self.min_spacing))  # [S]
        if not distance:
            empty = torch.zeros(0, device=self.actions.device)
            return empty, empty
        return torch.cat(distance), torch.cat(spacing)

    def flags(self, states: Tensor, actions: Tensor) -> Tensor:  # -> [S] bool
        distance, spacing = self.distances(states, actions)
        return distance > self.kappa * spacing

    def exceedances(self, states: Tensor, actions: Tensor, kappas: tuple[float, ...] = KAPPA_GRID) -> Tensor:
        """How many pairs are OOD at each of ``kappas`` (the same comparison as :meth:`flags`): ``[K]``."""
        distance, spacing = self.distances(states, actions)
        return torch.stack([(distance > kappa * spacing).sum() for kappa in kappas]).double()

    def rate(self, states: Tensor, actions: Tensor) -> float:
        """Share of OOD actions among the ``(state, action)`` pairs."""
        return float(self.flags(states, actions).float().mean())
