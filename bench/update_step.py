"""Benchmark of one learner's update (every optimizer step, targets, EMA) through the real Lightning path.

Random data with the dimensions of a task; prints milliseconds per iteration and iterations/s.

    python bench/update_step.py --task hopper --threads 1
    python bench/update_step.py --task halfcheetah --threads 2 --algo diffusion_ql --precision bf16-mixed
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable

import lightning.pytorch as pl
import numpy as np
import torch

from ramac.data.datamodule import OfflineDataModule
from ramac.data.transitions import Transitions
from ramac.learners import BC, CODAC, CQL, FQL, ORAAC, RADAC, RAFMAC, DiffusionQL

TASKS = {  # obs, action, quantiles, embedding (released configs/radac.yaml)
    "hopper": (11, 3, 16, 64),
    "halfcheetah": (17, 6, 32, 128),
}


class RandomData(OfflineDataModule):
    def __init__(self, obs_dim: int, action_dim: int, size: int = 100_000, batch_size: int = 256) -> None:
        super().__init__(batch_size=batch_size, iterations_per_epoch=10_000)
        self.size, self.dims = size, (obs_dim, action_dim)

    def load_transitions(self) -> Transitions:
        rng = np.random.default_rng(0)
        o, a = self.dims
        obs = rng.standard_normal((self.size, o))
        return Transitions(obs, rng.uniform(-1, 1, (self.size, a)), rng.standard_normal(self.size),
                           obs + 0.1, (rng.random(self.size) < 0.01).astype(np.float32), source="random")


class Timer(pl.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.stamps = warmup, []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if batch_idx >= self.warmup:
            if pl_module.device.type == "cuda":
                torch.cuda.synchronize()
            self.stamps.append(time.perf_counter())


#: each learner at its task settings (released configs where they exist), EMA on from the first iteration
LEARNERS = {
    # the full iteration (risk term on); "radac_warmup": an iteration of the warm-up, which skips the risk branch
    "radac": lambda o, a, q, e: RADAC(o, a, n_quantiles=q, critic_embedding_dim=e, ema_start_iteration=0,
                                      risk_warmup_iterations=0),
    "radac_warmup": lambda o, a, q, e: RADAC(o, a, n_quantiles=q, critic_embedding_dim=e, ema_start_iteration=0),
    "bc": lambda o, a, q, e: BC(o, a),
    "diffusion_ql": lambda o, a, q, e: DiffusionQL(o, a, ema_start_iteration=0),
    "fql": lambda o, a, q, e: FQL(o, a, normalize_q_loss=True),
    "rafmac": lambda o, a, q, e: RAFMAC(o, a, n_quantiles=q, critic_embedding_dim=e),
    "cql": lambda o, a, q, e: CQL(o, a),
    "oraac": lambda o, a, q, e: ORAAC(o, a),  # O-RAAC's expert JSON sizes (critic 256)
    "oraac_diffusion": lambda o, a, q, e: ORAAC(o, a, prior="diffusion"),
    "oraac_flow": lambda o, a, q, e: ORAAC(o, a, prior="flow"),
    "codac": lambda o, a, q, e: CODAC(o, a),
}


def run(task: str, iterations: int, warmup: int, accelerator: str, precision: str = "32-true",
        algo: str = "radac", batch_size: int = 256) -> list[float]:
    obs_dim, action_dim, quantiles, embedding = TASKS[task]
    data = RandomData(obs_dim, action_dim, batch_size=batch_size)
    model = LEARNERS[algo](obs_dim, action_dim, quantiles, embedding)
    timer = Timer(warmup)
    trainer = pl.Trainer(accelerator=accelerator, devices=1, max_steps=warmup + iterations, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[timer], precision=precision)
    trainer.fit(model, datamodule=data)
    return [1000 * (b - a) for a, b in zip(timer.stamps, timer.stamps[1:], strict=False)]


def median_ms(step: Callable[[], None], iterations: int, warmup: int) -> float:
    """Median wall time of ``step()`` in milliseconds over ``iterations`` calls after ``warmup`` calls."""
    times = []
    for i in range(warmup + iterations):
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def side_by_side(reference_cmd: list[str], task: str, iterations: int, rounds: int, algo: str,
                 precision: str = "32-true", batch_size: int = 256) -> tuple[list[float], list[float]]:
    """Interleaved rounds: the reference's ms/it (``reference_cmd`` prints it last; its own process each round, so
    nothing ramac sets for itself, such as the allocator setting of ``ramac.training.memory``, changes its speed),
    then ramac's median ms/it through Lightning. Only ratios from the same run are meaningful."""
    theirs, ours = [], []
    for _ in range(rounds):
        done = subprocess.run(reference_cmd, capture_output=True, text=True, check=True)
        theirs.append(float(done.stdout.strip().splitlines()[-1]))
        ours.append(statistics.median(run(task, iterations, 10, "cpu", precision, algo, batch_size)))
    return theirs, ours


def compare_main(description: str, time_reference: Callable[[str, str, int, int], float], algo: str, label: str,
                 reference_help: str, iterations: int = 30, warmup: int = 5, batch_size: int = 256) -> None:
    """The command line of a side-by-side comparison script (``compare_oraac.py``, ``compare_codac.py``): with
    ``--only-reference`` it prints the reference's median ms/it (run in its own process by :func:`side_by_side`),
    otherwise it interleaves rounds of both and prints the medians and their ratio."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--reference", required=True, help=reference_help)
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=iterations)
    parser.add_argument("--only-reference", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    if args.only_reference:
        print(time_reference(args.reference, args.task, args.iterations, warmup))
        return
    cmd = [sys.executable, sys.argv[0], "--only-reference", "--reference", args.reference, "--task", args.task,
           "--threads", str(args.threads), "--iterations", str(args.iterations)]
    theirs, ours = side_by_side(cmd, args.task, args.iterations, args.rounds, algo, batch_size=batch_size)
    a, b = statistics.median(theirs), statistics.median(ours)
    print(f"task={args.task} threads={args.threads} batch={batch_size} | {label} ms/it "
          f"{', '.join(f'{x:.1f}' for x in theirs)} | ramac ms/it {', '.join(f'{x:.1f}' for x in ours)} | "
          f"median {a:.1f} vs {b:.1f} ms -> {a / b:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), default="hopper")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--precision", default="32-true")
    parser.add_argument("--algo", choices=sorted(LEARNERS), default="radac")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    medians = []
    for _ in range(args.repeats):
        times = run(args.task, args.iterations, args.warmup, args.accelerator, args.precision, args.algo)
        medians.append(statistics.median(times))
    best = min(medians)
    print(f"ramac {args.algo} update | task={args.task} threads={args.threads} accelerator={args.accelerator} "
          f"precision={args.precision} | "
          f"median ms/it per repeat: {', '.join(f'{m:.1f}' for m in medians)} | best {best:.1f} ms "
          f"= {1000 / best:.1f} it/s")


if __name__ == "__main__":
    main()
