"""Interleaved timing of ramac's RADAC update and the released-code-structured step (official_step.py).

    python bench/compare_official.py --task hopper --threads 2

Each round times the official-style step, then ramac's update through Lightning (update_step.py),
on random data of the task's dimensions (batch 256). Medians per round and the ratio are printed;
only ratios from the same run are meaningful (the VM drifts ±15 %).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
from official_step import OfficialStyleRADAC
from update_step import TASKS, run


def time_official(task: str, iterations: int, warmup: int) -> float:
    obs_dim, action_dim, quantiles, emb = TASKS[task]
    agent = OfficialStyleRADAC(obs_dim, action_dim, quantiles, emb)
    g = torch.Generator().manual_seed(0)
    data = [torch.randn(256, obs_dim, generator=g), torch.rand(256, action_dim, generator=g) * 2 - 1,
            torch.randn(256, generator=g), torch.randn(256, obs_dim, generator=g), torch.ones(256)]
    times = []
    for i in range(warmup + iterations):
        start = time.perf_counter()
        agent.train_step(*data)
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    official, ours = [], []
    for _ in range(args.rounds):
        official.append(time_official(args.task, args.iterations, 5))
        ours.append(statistics.median(run(args.task, args.iterations, 10, "cpu")))
    o, r = statistics.median(official), statistics.median(ours)
    print(f"task={args.task} threads={args.threads} | official-style ms/it {', '.join(f'{x:.0f}' for x in official)}"
          f" | ramac ms/it {', '.join(f'{x:.1f}' for x in ours)} | median {o:.0f} vs {r:.1f} ms -> {o / r:.2f}x")


if __name__ == "__main__":
    main()
