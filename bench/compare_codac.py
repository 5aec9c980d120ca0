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

import argparse
import os
import statistics
import sys
import types
import warnings

import numpy as np
import torch
from update_step import TASKS, median_ms, side_by_side

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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", required=True, help="directory holding CODAC's distributional/ and sac/")
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--only-reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.only_reference:
        print(time_reference(args.reference, args.task, args.iterations, 5))
        return
    cmd = [sys.executable, __file__, "--only-reference", "--reference", args.reference, "--task", args.task,
           "--threads", str(args.threads), "--iterations", str(args.iterations)]
    theirs, ours = side_by_side(cmd, args.task, args.iterations, args.rounds, "codac")
    a, b = statistics.median(theirs), statistics.median(ours)
    print(f"task={args.task} threads={args.threads} | CODAC ms/it {', '.join(f'{x:.0f}' for x in theirs)}"
          f" | ramac ms/it {', '.join(f'{x:.1f}' for x in ours)} | median {a:.1f} vs {b:.1f} ms -> {a / b:.2f}x")


if __name__ == "__main__":
    main()
