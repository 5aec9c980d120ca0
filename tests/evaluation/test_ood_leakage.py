"""The OOD-leakage property behind RAMAC's Table 2, on a constructed thin, non-convex support: two tight action
clusters at ``(±0.8, 0)`` for every state, and an objective that prefers the empty region between them.

An anchored perturbation (ORAAC's actor, even around anchors drawn from the exact behaviour distribution) moves
``λ · max_action`` off each cluster and leaves the support; a BC-regularised generative actor trained on the same
objective (RADAC's actor loss) keeps its samples on the clusters. The detector is checked on its own first, so the
comparison tests the detector and the actors together."""

from __future__ import annotations

import torch

from ramac.actors.diffusion import DiffusionActor
from ramac.actors.perturbation import PerturbationActor
from ramac.evaluation.ood import NearestNeighbourOOD

CLUSTER_X, CLUSTER_WIDTH = 0.8, 0.05


def behaviour(states: torch.Tensor, generator: torch.Generator) -> torch.Tensor:  # [B, 1] -> [B, 2]
    side = torch.randint(0, 2, (states.shape[0], 1), generator=generator).float() * 2 - 1
    centre = torch.cat((side * CLUSTER_X, torch.zeros_like(side)), 1)
    return centre + CLUSTER_WIDTH * torch.randn(centre.shape, generator=generator)


def centre_cost(actions: torch.Tensor) -> torch.Tensor:  # the objective's negative: prefer actions near 0
    return actions.square().sum(-1).mean()


def test_anchored_perturbation_leaks_where_a_bc_regularised_actor_does_not():
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    states = torch.rand(4000, 1, generator=generator) * 2 - 1
    detector = NearestNeighbourOOD(states, behaviour(states, generator), k=100, kappa=3.0)
    query = torch.rand(1000, 1, generator=generator) * 2 - 1

    # The detector alone: fresh behaviour actions pass, the same actions moved 0.25 towards the centre do not.
    fresh = behaviour(query, generator)
    shifted = fresh - 0.25 * torch.sign(fresh[:, :1]) * torch.tensor([1.0, 0.0])
    assert detector.rate(query, fresh) < 0.05
    assert detector.rate(query, shifted) > 0.95

    # ORAAC's actor around exact behaviour anchors, trained on the centre-seeking objective.
    perturbation = PerturbationActor(1, 2, perturbation_scale=0.25, hidden_dims=(64, 64))
    optimizer = torch.optim.Adam(perturbation.parameters(), lr=1e-3)
    for _ in range(300):
        batch = torch.rand(256, 1, generator=generator) * 2 - 1
        loss = centre_cost(perturbation(batch, behaviour(batch, generator)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    anchored = perturbation(query, behaviour(query, generator)).detach()

    # RADAC's actor loss on the same objective: BC + a small weight on it, through the whole reverse chain.
    actor = DiffusionActor(1, 2, hidden_dim=128, diffusion_steps=10)
    optimizer = torch.optim.Adam(actor.parameters(), lr=3e-3)
    for _ in range(900):
        batch = torch.rand(256, 1, generator=generator) * 2 - 1
        loss = actor.bc_loss(batch, behaviour(batch, generator), generator) \
            + 0.05 * centre_cost(actor.sample(batch, generator))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        regularised = actor.sample(query, generator)

    anchored_rate, regularised_rate = detector.rate(query, anchored), detector.rate(query, regularised)
    # Both actors moved towards the preferred region, but only the anchored one left the support to do it.
    assert centre_cost(anchored) < centre_cost(fresh) - 0.2
    assert anchored_rate > 0.9, anchored_rate
    assert regularised_rate < anchored_rate / 3, (regularised_rate, anchored_rate)
