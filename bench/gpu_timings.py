"""Per-iteration time of every learner on one GPU, in one process, and the paper-length cost it implies.

Random data with each task's dimensions through the real Lightning path (``bench/update_step.py``'s ``run``);
each line is the median ms/it over ``--iterations`` after ``--warmup`` iterations, fp32 and bf16-mixed.

    python bench/gpu_timings.py --accelerator gpu          # on a GPU machine (README "Speed")
    python bench/gpu_timings.py --accelerator cpu --iterations 3 --warmup 1 --algos bc   # a smoke check
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from update_step import LEARNERS, TASKS, run

PAPER_ITERATIONS = 2_000_000  # the task configs' trainer.max_steps (research/paper-notes.md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accelerator", default="gpu")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tasks", nargs="+", default=sorted(TASKS), choices=sorted(TASKS))
    parser.add_argument("--algos", nargs="+", default=sorted(LEARNERS), choices=sorted(LEARNERS))
    parser.add_argument("--precisions", nargs="+", default=["32-true", "bf16-mixed"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.accelerator == "gpu":
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    print("| task | algorithm | precision | ms/it | it/s | 2M iterations |\n|---|---|---|---|---|---|", flush=True)
    for task in args.tasks:
        for algo in args.algos:
            for precision in args.precisions:
                try:
                    ms = statistics.median(run(task, args.iterations, args.warmup, args.accelerator, precision, algo))
                except Exception as error:  # one learner's failure is a line of the table, not the end of it
                    print(f"| {task} | {algo} | {precision} | failed: {type(error).__name__}: {error} | | |",
                          flush=True)
                    continue
                hours = PAPER_ITERATIONS * ms / 1000 / 3600
                print(f"| {task} | {algo} | {precision} | {ms:.2f} | {1000 / ms:.0f} | {hours:.1f} h |", flush=True)


if __name__ == "__main__":
    main()
