"""Interleaved timing of ramac's RADAC update against the released RAMAC code.

    python bench/compare_official.py --task hopper --threads 2 --official-repo /path/to/RAMAC

With ``--official-repo`` (a checkout of KaiFukazawa/RAMAC; it needs only torch) each round times the
released ``agents.radac.RADAC.train`` for one iteration at a time on a replay buffer of random data;
without it, the stand-in of ``official_step.py``. Then ramac's update through Lightning
(update_step.py) on random data of the same dimensions (batch 256). Medians per round and the ratio are
printed; only ratios from the same run are meaningful (the VM drifts ±15 %).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings

import torch
from official_step import OfficialStyleRADAC
from update_step import TASKS, median_ms, side_by_side


class RandomBuffer:
    """The released replay buffer's sampling path (CPU index, gather, ``.to(device)``) on random data."""

    def __init__(self, obs_dim: int, action_dim: int, size: int = 100_000) -> None:
        g = torch.Generator().manual_seed(0)
        self.size = size
        self.state, self.next_state = torch.randn(size, obs_dim, generator=g), torch.randn(size, obs_dim, generator=g)
        self.action = torch.rand(size, action_dim, generator=g) * 2 - 1
        self.reward, self.not_done = torch.randn(size, 1, generator=g), torch.ones(size, 1)

    def sample(self, batch_size: int):
        idx = torch.randint(0, self.size, (batch_size,))
        return self.state[idx], self.action[idx], self.next_state[idx], self.reward[idx], self.not_done[idx]


def time_official(task: str, iterations: int, warmup: int, repo: str | None) -> float:
    obs_dim, action_dim, quantiles, emb = TASKS[task]
    buffer = RandomBuffer(obs_dim, action_dim)
    if repo:
        sys.path.insert(0, repo)
        from agents.radac import RADAC as ReleasedRADAC  # the released code, imported from the checkout

        agent = ReleasedRADAC(obs_dim, action_dim, 1.0, "cpu", 0.99, 0.005, quantiles, emb, beta_schedule="vp",
                              n_timesteps=5, lr_critic=1e-5, grad_norm=5.0, eta=0.05, step_start_ema=0,
                              q_clip_range=(-300.0, 300.0))

        def step() -> None:
            agent.train(buffer, iterations=1, batch_size=256)
    else:
        stand_in = OfficialStyleRADAC(obs_dim, action_dim, quantiles, emb)

        def step() -> None:
            s, a, s2, r, nd = buffer.sample(256)
            stand_in.train_step(s, a, r.view(-1), s2, nd.view(-1))
    return median_ms(step, iterations, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--official-repo", default=None, help="checkout of KaiFukazawa/RAMAC to time")
    parser.add_argument("--precision", default="32-true", help="ramac's --trainer.precision")
    parser.add_argument("--only-official", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.only_official:
        print(time_official(args.task, args.iterations, 5, args.official_repo))
        return
    reference_cmd = [sys.executable, __file__, "--only-official", "--task", args.task, "--threads", str(args.threads),
                     "--iterations", str(args.iterations)]
    if args.official_repo:
        reference_cmd += ["--official-repo", args.official_repo]
    official, ours = side_by_side(reference_cmd, args.task, args.iterations, args.rounds, "radac", args.precision)
    o, r = statistics.median(official), statistics.median(ours)
    label = "released code" if args.official_repo else "official-style stand-in"
    official_ms = ", ".join(f"{x:.0f}" for x in official)
    print(f"task={args.task} threads={args.threads} precision={args.precision} | {label} ms/it {official_ms}"
          f" | ramac ms/it {', '.join(f'{x:.1f}' for x in ours)} | median {o:.0f} vs {r:.1f} ms -> {o / r:.2f}x")


if __name__ == "__main__":
    main()
