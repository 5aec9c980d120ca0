"""Evaluation: CVaR of returns, DDP-synchronised metrics, the OOD detector, deterministic rollouts."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ramac.envs.hazards import Hazard
from ramac.evaluation.metrics import EpisodeMetrics, lower_tail_mean
from ramac.evaluation.ood import NearestNeighbourOOD
from ramac.evaluation.rollout import EnvPool, rollout


def test_lower_tail_mean_against_reference():
    rng = np.random.default_rng(0)
    for n in (1, 7, 10, 50, 101):
        x = rng.normal(size=n)
        for alpha in (0.05, 0.1, 0.25, 1.0):
            count = max(1, math.ceil(alpha * n))
            assert lower_tail_mean(torch.tensor(x), alpha).item() == pytest.approx(np.sort(x)[:count].mean())
    assert lower_tail_mean(torch.tensor([5.0, 1.0, 3.0] * 3 + [-7.0]), 0.1).item() == -7.0  # worst 1 of 10


def _metric_values(returns, lengths, risky, penalties):
    metric = EpisodeMetrics(0.1)
    metric.update(*(torch.tensor(x) for x in (returns, lengths, risky, penalties)), ood_actions=3.0,
                  scored_actions=float(sum(lengths)))
    return {k: (sorted(v.tolist()) if k == "returns" else float(v)) for k, v in metric.compute().items()}


def _ddp_worker(rank, world, port, data, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    metric = EpisodeMetrics(0.1)
    part = [np.asarray(x)[rank::world] for x in data]
    metric.update(*(torch.tensor(x) for x in part), ood_actions=1.5, scored_actions=float(part[1].sum()))
    values = {k: (sorted(v.tolist()) if k == "returns" else float(v)) for k, v in metric.compute().items()}
    if rank == 0:
        torch.save(values, out)
    dist.destroy_process_group()


def test_metrics_over_two_ddp_processes_equal_one_process(tmp_path):
    rng = np.random.default_rng(1)
    data = (rng.normal(100, 30, 10), rng.integers(50, 500, 10).astype(float), rng.integers(0, 20, 10).astype(float),
            rng.integers(0, 3, 10).astype(float))
    single = _metric_values(*data)
    out = tmp_path / "ddp.pt"
    mp.spawn(_ddp_worker, args=(2, 29517, data, str(out)), nprocs=2, join=True)
    together = torch.load(out)
    for key, value in single.items():
        assert together[key] == pytest.approx(value), key
    assert single["return_cvar_0.1"] == pytest.approx(np.sort(data[0])[0])
    assert together["returns"] == pytest.approx(sorted(data[0]))  # every episode's return, from both ranks
    assert single["risky_state_rate"] == pytest.approx(data[2].sum() / data[1].sum())


def test_ood_detector_on_constructed_cases():
    gen = torch.Generator().manual_seed(0)
    states = torch.rand(4000, 3, generator=gen) * 2 - 1
    actions = torch.tanh(states[:, :2] * 2) + 0.05 * torch.randn(4000, 2, generator=gen)
    detector = NearestNeighbourOOD(states, actions, k=10, kappa=3.0)
    queries = torch.rand(300, 3, generator=gen) * 2 - 1
    in_support = torch.tanh(queries[:, :2] * 2) + 0.02 * torch.randn(300, 2, generator=gen)
    far = -torch.tanh(queries[:, :2] * 2) + 1.5
    assert detector.rate(queries, in_support) < 0.05
    assert detector.rate(queries, far) > 0.95
    small_chunks = NearestNeighbourOOD(states, actions, k=10, kappa=3.0, chunk=257)
    assert torch.equal(small_chunks.flags(queries, far), detector.flags(queries, far))
    # the κ grid from one search: each count is the flag count of a detector built with that κ
    mixed = torch.cat([in_support, far, 0.5 * (in_support + far)])
    tiled = queries.repeat(3, 1)
    counts = detector.exceedances(tiled, mixed, (0.5, 1.0, 3.0, 10.0))
    for kappa, count in zip((0.5, 1.0, 3.0, 10.0), counts.tolist(), strict=True):
        assert count == NearestNeighbourOOD(states, actions, k=10, kappa=kappa).flags(tiled, mixed).sum().item()
    assert counts.tolist() == sorted(counts.tolist(), reverse=True) and 0 < counts[-1] < counts[0]
    with pytest.raises(ValueError, match="k must be"):
        NearestNeighbourOOD(states, actions, k=1)


def test_rollouts_are_deterministic_given_seeds_and_batched():
    hazard = Hazard(kind="pose", probability=0.5, penalty=-50.0, low=-0.05, high=0.05, termination_factor=100.0)
    weight = torch.randn(11, 3, generator=torch.Generator().manual_seed(0)) * 0.3

    def act(obs):
        return torch.tanh(obs @ weight)

    a = rollout(act, "Hopper-v5", hazard, [5, 6, 7], horizon=100)
    b = rollout(act, "Hopper-v5", hazard, [5, 6, 7], horizon=100)
    assert np.array_equal(a.returns, b.returns) and np.array_equal(a.penalties, b.penalties)
    assert a.lengths.max() <= 100 and len(a.observations) == a.lengths.sum()
    single = rollout(act, "Hopper-v5", hazard, [6], horizon=100)
    assert single.returns[0] == pytest.approx(a.returns[1])  # batching does not change an episode
    with EnvPool("Hopper-v5", hazard, horizon=100, workers=3) as pool:
        for _ in range(2):  # the environments are reused: the second rollout must not depend on the first
            workers = pool.rollout(act, [5, 6, 7])
            assert np.array_equal(workers.returns, a.returns) and np.array_equal(workers.lengths, a.lengths)
            assert np.array_equal(workers.risky_steps, a.risky_steps)
            assert np.array_equal(workers.actions, a.actions)
        assert pool.rollout(act, [6]).returns[0] == pytest.approx(a.returns[1])  # fewer episodes than groups


def test_env_pool_reports_worker_failures_and_stays_usable():
    def act(obs):
        return torch.full((len(obs), 3), 0.1)

    with EnvPool("Hopper-v5", None, horizon=10, workers=2) as pool:
        with pytest.raises(RuntimeError, match=r"evaluation worker 1 \(Hopper-v5\) failed"):
            pool.rollout(lambda obs: torch.full((len(obs), 5), 0.1), [0, 1])  # Hopper takes 3 actions
        after = pool.rollout(act, [0, 1])
    assert np.array_equal(after.returns, rollout(act, "Hopper-v5", None, [0, 1], horizon=10).returns)


class _LinearAgent(torch.nn.Module):
    """A deterministic Agent for evaluate_learner: a fixed linear policy, identity normaliser."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.randn(11, 3, generator=torch.Generator().manual_seed(0)) * 0.3
        self.obs_normalizer = torch.nn.Identity()

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def act(self, obs, generator=None):
        return torch.tanh(obs @ self.weight)


def test_ood_rate_on_a_seeded_sample_of_the_visited_actions():
    from ramac.evaluation.evaluate import evaluate_learner

    agent, seeds = _LinearAgent(), [1, 2]
    data = torch.Generator().manual_seed(1)
    dataset = torch.randn(500, 11, generator=data), torch.rand(500, 3, generator=data) * 2 - 1
    detector = NearestNeighbourOOD(*dataset, k=5, kappa=0.5)
    with EnvPool("Hopper-v5", None, horizon=40, workers=1) as pool:
        full = evaluate_learner(agent, "hopper", pool, seeds, detector, policy_seed=7)
        everything = evaluate_learner(agent, "hopper", pool, seeds, detector, policy_seed=7, ood_max_actions=10**6)
        sample = evaluate_learner(agent, "hopper", pool, seeds, detector, policy_seed=7, ood_max_actions=20)
        visited = pool.rollout(agent.act, seeds)
    assert everything == full  # a cap above the visited count scores them all
    assert sample["returns"] == full["returns"]  # the sample is drawn aside: the rollouts do not change
    assert 0.0 < full["ood_action_rate"] < 1.0
    chosen = torch.randperm(len(visited.actions), generator=torch.Generator().manual_seed(7))[:20]
    by_hand = detector.flags(torch.as_tensor(visited.observations, dtype=torch.float32)[chosen],
                             torch.as_tensor(visited.actions)[chosen]).float().mean()
    assert sample["ood_action_rate"] == pytest.approx(float(by_hand))
    assert [f"ood_action_rate_kappa_{k:g}" for k in (1, 2, 3, 5, 10)] == [k for k in sample if "_kappa_" in k]
    by_kappa = NearestNeighbourOOD(*dataset, k=5, kappa=2.0)
    assert sample["ood_action_rate_kappa_2"] == pytest.approx(float(by_kappa.flags(
        torch.as_tensor(visited.observations, dtype=torch.float32)[chosen],
        torch.as_tensor(visited.actions)[chosen]).float().mean()))
    from ramac.callbacks import RolloutEvaluation
    with pytest.raises(ValueError, match="ood_max_actions must be >= 1"):
        RolloutEvaluation(ood_max_actions=0)
