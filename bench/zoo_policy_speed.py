"""Time one 16-row sampling call of the Hopper-v5 medium zoo policy, generation 1 against 2 (BENCHMARKS.md "Zoo
data across CPUs"), alternating twice; one thread, as in the rollout workers.

    OMP_NUM_THREADS=1 python bench/zoo_policy_speed.py
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ramac.zoo.policy import ZooPolicy
from ramac.zoo.registry import zoo_dir


def main() -> None:
    torch.set_num_threads(1)
    obs = np.random.default_rng(0).normal(size=(16, 11))
    for generation in (1, 2, 1, 2):
        rng = np.random.default_rng(0)
        policy = ZooPolicy.load(zoo_dir("Hopper-v5") / "medium.pt", 1.0, generation)
        for _ in range(300):
            policy(obs, rng)
        start = time.perf_counter()
        for _ in range(3000):
            policy(obs, rng)
        print(f"generation {generation}: {(time.perf_counter() - start) / 3000 * 1e6:.0f} µs per 16-row call")


if __name__ == "__main__":
    main()
