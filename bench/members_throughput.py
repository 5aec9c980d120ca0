"""Issue 27, item 7: throughput of S members in one process against S solo runs packed the best way on this machine.

    python bench/members_throughput.py                      # the table in BENCHMARKS.md "Members on this machine"
    python bench/members_throughput.py --algos radac --tasks hopper --members 1 2 --iterations 10   # quick look

Every figure is member-iterations per second, measured by fresh processes on random data with the task's dimensions
(bench/update_step.py's ``RandomData`` and learner settings), after ``--warmup`` iterations:

- ``solo ×2 (1 thread)``: two solo runs at once, one thread each (BENCHMARKS.md: the best packing of solo runs on
  2 cores); the figure is the sum of the two runs' rates;
- ``members, 2 threads``: one process, S members, two threads;
- ``members, 1 thread``: one process, S members, one thread, alone on the machine;
- ``members ×2 (1 thread)``: two members processes at once, S/2 members each (S even), one thread each;
- with ``--ddp``: instead, one ``--trainer.devices 2`` DDP run of S members split over two 1-thread processes (what
  ``ramac fit --members S --trainer.accelerator cpu --trainer.devices 2 --trainer.strategy ddp`` does), its
  throughput from rank 0's iterations (S even: both ranks train S/2).

It also prints each process's resident memory (``VmRSS`` at the end) and, from the one-process runs, the memory each
member adds. Run it on an idle machine: every process here competes for the same two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))


def cpu_name() -> str:
    with open("/proc/cpuinfo") as handle:
        name = next((line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                    platform.processor())
    with open("/proc/cpuinfo") as handle:
        return f"{name} ({'AVX-512' if 'avx512f' in handle.read() else 'AVX2'})"


def members_model(algo: str, task: str, members: int):
    """``algo`` at ``task``'s dimensions (bench/update_step.py's settings); with ``members`` > 1 that many members,
    seeds 0 … S−1, writing into a temporary folder."""
    import tempfile

    sys.path.insert(0, ROOT)
    from update_step import LEARNERS, TASKS

    from ramac.learners.members import Members, MemberSpec, build_member

    template = LEARNERS[algo](*TASKS[task])
    if members == 1:
        return template
    folder = tempfile.mkdtemp()
    return Members([build_member(template, MemberSpec(k)) for k in range(members)],
                   [os.path.join(folder, f"seed{k}") for k in range(members)])


def worker(algo: str, task: str, members: int, iterations: int, warmup: int, devices: int = 1) -> None:
    """One measurement in this process: prints JSON with the seconds per iteration and the resident memory."""

    import lightning.pytorch as pl
    import torch

    sys.path.insert(0, ROOT)
    from update_step import TASKS, RandomData, Timer

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    obs_dim, action_dim, _, _ = TASKS[task]
    model = members_model(algo, task, members)
    timer = Timer(warmup)
    strategy = "ddp" if devices > 1 else "auto"
    trainer = pl.Trainer(accelerator="cpu", devices=devices, strategy=strategy, max_steps=warmup + iterations + 1,
                         logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         log_every_n_steps=10_000, callbacks=[timer])
    trainer.fit(model, datamodule=RandomData(obs_dim, action_dim))
    if trainer.global_rank != 0:
        return
    seconds = (timer.stamps[-1] - timer.stamps[0]) / (len(timer.stamps) - 1)
    with open("/proc/self/status") as handle:
        rss = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS")) / 1024
    print(json.dumps({"seconds": seconds, "rss_mib": rss}))


def measure(algo: str, task: str, split: list[int], threads: int, iterations: int, warmup: int,
            devices: int = 1) -> list[dict]:
    """Start one worker per entry of ``split`` (its member count) at once; return their results."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    processes = [subprocess.Popen([sys.executable, __file__, "--worker", algo, task, str(s), str(iterations),
                                   str(warmup), str(devices)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env)
                 for s in split]
    out = []
    for process in processes:
        stdout, stderr = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"worker failed:\n{stderr[-2000:]}")
        out.append(json.loads(stdout.strip().splitlines()[-1]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algos", nargs="+", default=["radac", "diffusion_ql", "bc", "oraac"])
    parser.add_argument("--tasks", nargs="+", default=["hopper", "halfcheetah"])
    parser.add_argument("--members", nargs="+", type=int, default=[1, 2, 5, 10])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--ddp", action="store_true", help="the last column from a 2-device DDP members run")
    parser.add_argument("--worker", nargs=6, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        algo, task, members, iterations, warmup, devices = args.worker
        worker(algo, task, int(members), int(iterations), int(warmup), int(devices))
        return
    print(f"# {cpu_name()}, {os.cpu_count()} cores; torch threads as labelled; {time.strftime('%Y-%m-%d')}")
    print(f"# member-iterations/s after {args.warmup} warm-up iterations, over {args.iterations}")
    last = "members, devices 2 (DDP, 1 thread)" if args.ddp else "members ×2 (1 thread)"
    print(f"| learner | task | solo ×2 (1 thread) | S | members, 2 threads | members, 1 thread | {last} "
          "| members 2 threads / solo ×2 | MiB per process (S=1 → S) | MiB per added member |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task in args.tasks:
        for algo in args.algos:
            pair = measure(algo, task, [1, 1], 1, args.iterations, args.warmup)
            solo_rate = sum(1 / r["seconds"] for r in pair)
            base = None
            for s in args.members:
                two = measure(algo, task, [s], 2, args.iterations, args.warmup)[0]
                one = measure(algo, task, [s], 1, args.iterations, args.warmup)[0]
                base = base or one
                rate_two, rate_one = s / two["seconds"], s / one["seconds"]
                split = "–"
                if s % 2 == 0 and s > 1 and args.ddp:
                    ranked = measure(algo, task, [s], 1, args.iterations, args.warmup, devices=2)[0]
                    split = f"{s / ranked['seconds']:.1f}"
                elif s % 2 == 0 and s > 1:
                    halves = measure(algo, task, [s // 2, s // 2], 1, args.iterations, args.warmup)
                    split = f"{sum(s // 2 / r['seconds'] for r in halves):.1f}"
                added = "–" if s == 1 else f"{(one['rss_mib'] - base['rss_mib']) / (s - 1):.1f}"
                print(f"| {algo} | {task} | {solo_rate:.1f} | {s} | {rate_two:.1f} | {rate_one:.1f} | {split} | "
                      f"{rate_two / solo_rate:.2f} | {base['rss_mib']:.0f} → {one['rss_mib']:.0f} | {added} |",
                      flush=True)


if __name__ == "__main__":
    main()
