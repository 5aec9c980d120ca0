"""Cost of the deterministic time-embedding lookup in the BC loss (issue 10): the RADAC update with
``F.embedding`` (ramac) against advanced indexing ``table[timesteps]`` (before; its backward accumulates with
parallel atomic adds, so two runs at 2+ threads differed by ~1e-7). Alternating repeats in one process.

    cd bench && python bc_lookup.py --threads 2 [--task hopper]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from types import SimpleNamespace

import torch
from update_step import TASKS, run

from ramac.generative import ddpm

# `ddpm` looks rows up with `F.embedding(timesteps, table)`; the previous code indexed `table[timesteps]`
LOOKUPS = {"embedding": ddpm.F, "indexing": SimpleNamespace(embedding=lambda index, table: table[index])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    medians: dict[str, list[float]] = {name: [] for name in LOOKUPS}
    for _ in range(args.repeats):
        for name, lookup in LOOKUPS.items():
            ddpm.F = lookup
            medians[name].append(statistics.median(run(args.task, args.iterations, 10, "cpu")))
    ddpm.F = LOOKUPS["embedding"]
    best = {name: min(values) for name, values in medians.items()}
    print(f"RADAC update, task={args.task}, threads={args.threads}: " + "; ".join(
        f"{name} median ms/it per repeat {', '.join(f'{m:.1f}' for m in values)} (best {best[name]:.1f})"
        for name, values in medians.items()) + f" | embedding / indexing = {best['embedding'] / best['indexing']:.3f}")


if __name__ == "__main__":
    main()
