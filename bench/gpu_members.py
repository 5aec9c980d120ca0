"""Issue 27, item 6: ms per iteration and per member-iteration of every learner with S members, on a GPU (or the CPU).

    python bench/gpu_members.py                                   # on the GPU machine: every learner, S = 1 and 8
    python bench/gpu_members.py --accelerator cpu --members 1 2 --iterations 2 --warmup 1 --algos bc radac
                                                                  # the CI smoke test (tests/system/test_benchmarks.py)

Each (learner, task, S) is timed through the real Lightning path (``bench/update_step.py``'s random data and learner
settings; hopper and halfcheetah dimensions) in this one process: ``--warmup`` iterations, then ``--iterations`` timed
ones, with a device synchronisation at every iteration's end. The members' updates run one after another
(:mod:`ramac.learners.members`), so a member-iteration costs what a solo iteration does; larger S adds nothing but
time, which is why S stops at 8 by default (S = 32 or 128, given with ``--members``, take S times as long).

Captured iterations (CUDA graphs) are not built (README "Many runs in one process"): the ``captured`` column says so
rather than print a number. On the GPU machine, a members study cell group runs as a sweep with
``resources: {members_per_run: 5}`` and ``set: {trainer.accelerator: cuda}`` on a dataset copied there
(``bench/device_zoo_check.sh`` remakes one and checks its published checksum).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.abspath(__file__))
ALGOS = ["radac", "rafmac", "diffusion_ql", "bc", "fql", "cql", "codac", "oraac", "oraac_diffusion", "oraac_flow"]


def time_members(algo: str, task: str, members: int, iterations: int, warmup: int, accelerator: str) -> float:
    """Seconds per iteration of ``members`` members of ``algo`` (median gap between iteration ends)."""
    import statistics

    import lightning.pytorch as pl

    sys.path.insert(0, ROOT)
    from members_throughput import members_model
    from update_step import TASKS, RandomData, Timer

    obs_dim, action_dim, _, _ = TASKS[task]
    model = members_model(algo, task, members)
    timer = Timer(warmup)
    trainer = pl.Trainer(accelerator=accelerator, devices=1, max_steps=warmup + iterations + 1, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         log_every_n_steps=10_000, callbacks=[timer])
    trainer.fit(model, datamodule=RandomData(obs_dim, action_dim))
    gaps = [b - a for a, b in zip(timer.stamps, timer.stamps[1:], strict=False)]
    return statistics.median(gaps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accelerator", default="cuda")
    parser.add_argument("--algos", nargs="+", default=ALGOS)
    parser.add_argument("--tasks", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--members", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import torch

    if args.accelerator == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("gpu_members.py: --accelerator cuda but torch sees no GPU (use --accelerator cpu)")
        device = torch.cuda.get_device_name(0)
    else:
        with open("/proc/cpuinfo") as handle:
            device = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")), "cpu")
        device += f", {torch.get_num_threads()} threads"
    print(f"# {device}; torch {torch.__version__}; {time.strftime('%Y-%m-%d')}")
    print("| learner | task | S | eager ms/iteration | eager ms/member-iteration | captured |")
    print("|---|---|---|---|---|---|")
    for task in args.tasks:
        for algo in args.algos:
            for members in args.members:
                seconds = time_members(algo, task, members, args.iterations, args.warmup, args.accelerator)
                print(f"| {algo} | {task} | {members} | {1e3 * seconds:.2f} | {1e3 * seconds / members:.2f} | "
                      "not built |", flush=True)


if __name__ == "__main__":
    main()
