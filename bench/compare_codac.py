"""ramac's CODAC update against CODAC's own ``update_parameters`` (``JasonMa2016/CODAC`` @ 991866b), timed side by
side in one run.

    git -C <CODAC mirror> archive HEAD distributional sac | tar -x -C /tmp/codac_ref
    python bench/compare_codac.py --reference /tmp/codac_ref --task hopper --threads 2

Both at CODAC's defaults (2 × 256, N 32, P 10, weight 10 with a Lagrange threshold, fixed α, CVaR₀.₁) and its batch
of 256, on random data of the task's dimensions. CODAC runs in its own process each round, loaded by
``tests/helpers/references.py`` (wandb stubbed, its CUDA constant moved to the CPU); its batch arrives as NumPy
arrays, as its training loop passes them. Losses are compared in ``tests/learners/test_codac.py``.
"""

from __future__ import annotations

import os
import sys
import types

import numpy as np
from update_step import TASKS, compare_main, median_ms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))


def time_reference(path: str, task: str, iterations: int, warmup: int) -> float:
    from helpers.references import load_codac

    codac = load_codac(path, agent=True)["distributional.codac"]
    obs_dim, action_dim, _, _ = TASKS[task]
    space = types.SimpleNamespace(shape=(action_dim,), high=np.ones(action_dim, np.float32),
                                  low=-np.ones(action_dim, np.float32))
    agent = codac.CODAC(obs_dim, space, risk_type="cvar", risk_param=0.1, device="cpu")
    rng = np.random.default_rng(0)
    size = 100_000
    data = (rng.standard_normal((size, obs_dim), np.float32), rng.uniform(-1, 1, (size, action_dim)).astype(np.float32),
            rng.standard_normal(size).astype(np.float32), rng.standard_normal((size, obs_dim), np.float32),
            np.ones(size, np.float32))

    def step() -> None:  # its replay memory hands over NumPy arrays of a uniform batch
        idx = rng.integers(0, size, 256)
        agent.update_parameters(tuple(x[idx] for x in data), 256, 0)

    return median_ms(step, iterations, warmup)


def main() -> None:
    compare_main(__doc__.split("\n\n")[0], time_reference, "codac", "CODAC",
                 "directory holding CODAC's distributional/ and sac/", iterations=30, warmup=5, batch_size=256)


if __name__ == "__main__":
    main()
