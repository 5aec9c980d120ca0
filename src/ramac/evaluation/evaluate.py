"""One evaluation of a learner: rollouts, episode metrics, OOD rate and the normalised score."""

from __future__ import annotations

from typing import Any

import torch

from ramac.evaluation.metrics import EpisodeMetrics
from ramac.evaluation.ood import NearestNeighbourOOD
from ramac.evaluation.rollout import EnvPool
from ramac.tasks import env_facts
from ramac.types import Agent


@torch.no_grad()
def evaluate_learner(learner: Agent, env_key: str, pool: EnvPool, seeds: list[int],
                     detector: NearestNeighbourOOD | None = None, cvar_alpha: float = 0.1,
                     policy_seed: int = 0) -> dict[str, Any]:
    """Evaluate ``learner.act`` on one episode per seed in ``pool``'s environments (this process's share
    under DDP; the metric object synchronises across ranks when a process group exists). Values are floats, but
    ``returns``: the list of every episode's return."""
    device = learner.device
    generator = torch.Generator(device=device).manual_seed(policy_seed)
    metric = EpisodeMetrics(cvar_alpha).to(device)
    was_training = learner.training
    learner.eval()
    try:
        if not seeds:  # every rank must hold a (possibly empty) entry for the cross-rank gather
            empty = torch.zeros(0, device=device)
            metric.update(empty, empty, empty, empty)
        else:
            result = pool.rollout(lambda obs: learner.act(obs, generator), seeds, device)
            ood, scored = 0.0, 0.0
            if detector is not None:
                states = learner.obs_normalizer(torch.as_tensor(result.observations, dtype=torch.float32,
                                                                device=device))
                ood = float(detector.flags(states, torch.as_tensor(result.actions)).sum())
                scored = float(len(result.actions))
            metric.update(*(torch.as_tensor(x, device=device) for x in (result.returns, result.lengths,
                                                                         result.risky_steps, result.penalties)),
                          ood_actions=ood, scored_actions=scored)
    finally:
        learner.train(was_training)
    values: dict[str, Any] = {k: (v.tolist() if k == "returns" else float(v)) for k, v in metric.compute().items()}
    low, high = env_facts(env_key).d4rl_reference
    values["d4rl_normalized_score"] = 100.0 * (values["return_mean"] - low) / (high - low)
    return values
