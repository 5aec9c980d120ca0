"""Batched vs one-by-one evaluation: 10 Hopper-v5 episodes × 500 steps with RADAC's 5-step diffusion actor.

    python bench/evaluation.py --threads 1

The episodes must last the full horizon for a fair timing, so the (untrained) actor runs in Hopper-v5
with ``terminate_when_unhealthy=False``. Batched: the 10 episodes step together and the actor samples
for all of them in one call; ``--workers k`` steps them in k groups in parallel (this process and k-1
worker processes). "cold" includes making the environments and starting the workers (a one-off
``rollout``); "warm" reuses an ``EnvPool``, as the training callback does from its second evaluation.
One-by-one: the same 10 episodes run after each other, each in a fresh environment.
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from ramac.evaluation.rollout import EnvPool, rollout
from ramac.learners.radac import RADAC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="environment processes of the batched run")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    learner = RADAC(obs_dim=11, action_dim=3).eval()
    generator = torch.Generator()

    def act(obs: torch.Tensor) -> torch.Tensor:
        return learner.act(obs, generator)

    seeds = list(range(args.episodes))
    cold, warm, sequential = [], [], []
    pool = EnvPool("Hopper-v5", None, args.horizon, workers=args.workers, terminate_when_unhealthy=False)
    for _ in range(args.repeats):
        start = time.perf_counter()
        result = rollout(act, "Hopper-v5", None, seeds, args.horizon, workers=args.workers,
                         terminate_when_unhealthy=False)
        cold.append(time.perf_counter() - start)
        assert result.lengths.min() == args.horizon
        start = time.perf_counter()
        pool.rollout(act, seeds)
        warm.append(time.perf_counter() - start)
        start = time.perf_counter()
        for seed in seeds:
            rollout(act, "Hopper-v5", None, [seed], args.horizon, terminate_when_unhealthy=False)
        sequential.append(time.perf_counter() - start)
    pool.close()
    c, w, s = min(cold), min(warm), min(sequential)
    print(f"{args.episodes} episodes x {args.horizon} steps, threads={args.threads}, workers={args.workers}: "
          f"one-by-one {s:.2f} s; batched cold {c:.2f} s (ratio {c / s:.3f}), "
          f"warm {w:.2f} s (ratio {w / s:.3f}); target <= 0.2")

if __name__ == "__main__":
    main()
