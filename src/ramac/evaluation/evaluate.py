"""One evaluation of a learner: rollouts, episode metrics, OOD rate and the normalised score."""

from __future__ import annotations

from typing import Any

import torch

from ramac.evaluation.metrics import EpisodeMetrics
from ramac.evaluation.ood import KAPPA_GRID, NearestNeighbourOOD
from ramac.evaluation.rollout import EnvPool
from ramac.tasks import env_facts
from ramac.types import Agent


@torch.no_grad()
def evaluate_learner(learner: Agent, env_key: str, pool: EnvPool, seeds: list[int],
                     detector: NearestNeighbourOOD | None = None, cvar_alpha: float = 0.1,
                     policy_seed: int = 0, ood_max_actions: int | None = None, synchronise: bool = True
                     ) -> dict[str, Any]:
    """Evaluate ``learner.act`` on one episode per seed in ``pool``'s environments (this process's share
    under DDP; the metric object synchronises across ranks when a process group exists). Values are floats, but
    ``returns``: the list of every episode's return.

    The OOD rate scores every visited (state, action) pair, or, with ``ood_max_actions`` = m, a uniform sample of m
    of them without replacement (drawn from its own generator seeded with ``policy_seed``, so the rollouts are the
    same either way): an unbiased estimate whose 95 % binomial half-width is at most 1.96·√(0.25/m). Beside it,
    ``ood_action_rate_kappa_<κ>`` for each κ of :data:`ramac.evaluation.ood.KAPPA_GRID`, from the same pairs.
    ``synchronise=False``: this process's episodes only, even under DDP (members split over devices)."""
    device = learner.device
    generator = torch.Generator(device=device).manual_seed(policy_seed)
    metric = EpisodeMetrics(cvar_alpha, synchronise).to(device)
    was_training = learner.training
    learner.eval()
    try:
        if not seeds:  # every rank must hold a (possibly empty) entry for the cross-rank gather
            empty = torch.zeros(0, device=device)
            metric.update(empty, empty, empty, empty)
        else:
            result = pool.rollout(lambda obs: learner.act(obs, generator), seeds, device)
            ood, scored, by_kappa = 0.0, 0.0, None
            if detector is not None:
                states = learner.obs_normalizer(torch.as_tensor(result.observations, dtype=torch.float32,
                                                                device=device))
                actions = torch.as_tensor(result.actions)
                if ood_max_actions is not None and len(actions) > ood_max_actions:
                    chosen = torch.randperm(len(actions), generator=torch.Generator().manual_seed(policy_seed))
                    chosen = chosen[:ood_max_actions]
                    states, actions = states[chosen.to(states.device)], actions[chosen]
                counts = detector.exceedances(states, actions, (detector.kappa, *KAPPA_GRID))  # one search
                ood, by_kappa = float(counts[0]), counts[1:]
                scored = float(len(actions))
            metric.update(*(torch.as_tensor(x, device=device) for x in (result.returns, result.lengths,
                                                                         result.risky_steps, result.penalties)),
                          ood_actions=ood, scored_actions=scored, ood_by_kappa=by_kappa)
    finally:
        learner.train(was_training)
    values: dict[str, Any] = {k: (v.tolist() if k == "returns" else float(v)) for k, v in metric.compute().items()}
    low, high = env_facts(env_key).d4rl_reference
    values["d4rl_normalized_score"] = 100.0 * (values["return_mean"] - low) / (high - low)
    return values
