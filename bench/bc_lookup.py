"""Cost of the deterministic time-embedding lookup in the BC loss (issue 10): the RADAC update with
``F.embedding`` (ramac) against advanced indexing ``table[timesteps]`` (before; its backward accumulates with
parallel atomic adds, so two runs at 2+ threads differed by ~1e-7). Alternating repeats in one process.

    python bench/bc_lookup.py --threads 2 [--task hopper]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import torch
from update_step import TASKS, run

import ramac.actors
from ramac.generative import ddpm


def indexed_epsilon_loss(denoiser, schedule, obs, actions, timesteps, noise):
    """The previous lookup: ``time_table[timesteps]`` (same value, non-deterministic backward on CPU)."""
    noisy = schedule.q_sample(actions, timesteps, noise)
    time_part = denoiser.time_features(torch.arange(schedule.steps, device=obs.device))[timesteps]
    eps = denoiser.trunk(noisy, denoiser.obs_features(obs) + time_part)
    return (eps - noise).square().mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    medians: dict[str, list[float]] = {"embedding": [], "indexing": []}
    for _ in range(args.repeats):
        for name, loss in (("embedding", ddpm.epsilon_loss), ("indexing", indexed_epsilon_loss)):
            ramac.actors.epsilon_loss = loss
            medians[name].append(statistics.median(run(args.task, args.iterations, 10, "cpu")))
    ramac.actors.epsilon_loss = ddpm.epsilon_loss
    best = {name: min(values) for name, values in medians.items()}
    print(f"RADAC update, task={args.task}, threads={args.threads}: " + "; ".join(
        f"{name} median ms/it per repeat {', '.join(f'{m:.1f}' for m in values)} (best {best[name]:.1f})"
        for name, values in medians.items()) + f" | embedding / indexing = {best['embedding'] / best['indexing']:.3f}")


if __name__ == "__main__":
    main()
