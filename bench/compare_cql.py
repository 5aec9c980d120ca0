"""ramac's CQL update against d3rlpy's (2.8.1), timed side by side in one run.

    bash bench/d3rlpy_env.sh /tmp/d3rlpy_pkg
    python bench/compare_cql.py --d3rlpy /tmp/d3rlpy_pkg --task hopper --threads 2

Both at d3rlpy's MuJoCo reproduction settings (3 × 256 encoders, 10 action samples, conservative weight 5, no
Lagrange multiplier, batch 256) on random data of the task's dimensions: d3rlpy's ``impl.update`` (its own process
each round, so that nothing ramac sets changes its speed) against ramac's update through Lightning
(``update_step.py``). The numbers themselves are compared in ``tests/learners/test_cql_d3rlpy.py``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings

import torch
from update_step import TASKS, median_ms, side_by_side


def time_d3rlpy(path: str, task: str, iterations: int, warmup: int) -> float:
    sys.path.append(path)
    import d3rlpy
    from d3rlpy.models.encoders import VectorEncoderFactory
    from d3rlpy.torch_utility import TorchMiniBatch

    obs_dim, action_dim, _, _ = TASKS[task]
    encoder = VectorEncoderFactory([256, 256, 256])
    config = d3rlpy.algos.CQLConfig(actor_learning_rate=1e-4, critic_learning_rate=3e-4, temp_learning_rate=1e-4,
                                    actor_encoder_factory=encoder, critic_encoder_factory=encoder, batch_size=256,
                                    n_action_samples=10, alpha_learning_rate=0.0, conservative_weight=5.0)
    algo = config.create(device="cpu:0")
    algo.create_impl((obs_dim,), action_dim)
    g = torch.Generator().manual_seed(0)
    size = 100_000
    data = (torch.randn(size, obs_dim, generator=g), torch.rand(size, action_dim, generator=g) * 2 - 1,
            torch.randn(size, 1, generator=g), torch.randn(size, obs_dim, generator=g), torch.zeros(size, 1))
    steps = iter(range(10**9))

    def step() -> None:  # the sampling (CPU index, gather) is part of both sides' iteration
        idx = torch.randint(0, size, (256,))
        obs, act, rew, nxt, term = (x[idx] for x in data)
        algo.impl.update(TorchMiniBatch(obs, act, rew, nxt, act, rew, term, torch.ones(256, 1), "cpu:0"), next(steps))

    return median_ms(step, iterations, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d3rlpy", required=True, help="directory of a d3rlpy install (bench/d3rlpy_env.sh)")
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--only-d3rlpy", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.only_d3rlpy:
        print(time_d3rlpy(args.d3rlpy, args.task, args.iterations, 5))
        return
    cmd = [sys.executable, __file__, "--only-d3rlpy", "--d3rlpy", args.d3rlpy, "--task", args.task, "--threads",
           str(args.threads), "--iterations", str(args.iterations)]
    theirs, ours = side_by_side(cmd, args.task, args.iterations, args.rounds, "cql")
    a, b = statistics.median(theirs), statistics.median(ours)
    print(f"task={args.task} threads={args.threads} | d3rlpy ms/it {', '.join(f'{x:.0f}' for x in theirs)}"
          f" | ramac ms/it {', '.join(f'{x:.1f}' for x in ours)} | median {a:.1f} vs {b:.1f} ms -> {a / b:.2f}x")


if __name__ == "__main__":
    main()
