"""``ramac data ...``: behaviour-policy training and dataset tools.

    ramac data train-behaviour Hopper-v5 --steps 300000          # resumable SAC run (hours on a CPU)
    ramac data make Hopper-v5 --policy actor.pt --size 1000000   # roll a policy out into a D4RL-layout file
    ramac data info FILE                                         # statistics of a D4RL-layout file
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch


def ramac_home() -> Path:
    """ramac's data directory: ``$RAMAC_DATA_DIR``, else ``~/.ramac``."""
    return Path(os.environ.get("RAMAC_DATA_DIR", Path.home() / ".ramac")).expanduser()


def _train_behaviour(args: argparse.Namespace) -> None:
    from ramac.zoo.sac import SACConfig, SACTrainer

    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else ramac_home() / "behaviour" / f"{args.env}-seed{args.seed}"
    config = SACConfig(env_id=args.env, total_steps=args.steps, seed=args.seed)
    trainer = SACTrainer(config, out)
    print(f"training SAC on {args.env} in {out} from step {trainer.step} to {args.steps} "
          f"(resumes from {out / 'checkpoint.pt'} when stopped)", flush=True)
    trainer.train()


def _make(args: argparse.Namespace) -> None:
    import gymnasium as gym
    import numpy as np
    from rich.progress import Progress

    from ramac.zoo.datasets import write_hdf5
    from ramac.zoo.policy import ZooPolicy
    from ramac.zoo.rollouts import collect

    torch.set_num_threads(1)  # the policy MLP is small; one thread avoids oversubscription
    env = gym.make(args.env)
    scale = float(np.max(np.abs(env.action_space.high)))
    env.close()
    policy = ZooPolicy.load(args.policy, scale)
    out = Path(args.out) if args.out else ramac_home() / "datasets" / f"{args.env}-{Path(args.policy).stem}.hdf5"
    with Progress() as progress:
        task = progress.add_task(f"rolling out {Path(args.policy).name} in {args.env}", total=args.size)
        data = collect(args.env, lambda obs, rng: policy(obs, rng), args.size, args.seed,
                       progress=lambda rows: progress.advance(task, rows))
    import gymnasium
    import mujoco

    provenance = {"env_id": args.env, "policy": str(args.policy), "seed": args.seed, "size": args.size,
                  "gymnasium": gymnasium.__version__, "mujoco": mujoco.__version__, "sampling": "stochastic"}
    print(write_hdf5(out, data, provenance))


def _info(args: argparse.Namespace) -> None:
    from ramac.data.d4rl import d4rl_transitions, read_d4rl_file
    from ramac.data.statistics import dataset_statistics, print_statistics

    transitions = d4rl_transitions(read_d4rl_file(args.file), args.file, args.next_observations)
    print_statistics(dataset_statistics(transitions), args.file)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ramac data", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train-behaviour", help="train a SAC behaviour agent (resumable)")
    train.add_argument("env", help="gymnasium environment id, e.g. Hopper-v5")
    train.add_argument("--steps", type=int, default=1_000_000, help="total environment steps")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default=None, help="run folder (default: $RAMAC_DATA_DIR/behaviour/ENV-seedN)")
    train.add_argument("--threads", type=int, default=1, help="torch threads (1 leaves a core for other work)")
    train.set_defaults(run=_train_behaviour)
    make = sub.add_parser("make", help="roll out a behaviour policy into a D4RL-layout dataset")
    make.add_argument("env", help="gymnasium environment id, e.g. Hopper-v5")
    make.add_argument("--policy", required=True, help="actor weights written by train-behaviour (snapshots/*.pt)")
    make.add_argument("--size", type=int, default=1_000_000, help="transitions (rows) to write")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--out", default=None, help="output file (default: $RAMAC_DATA_DIR/datasets/...)")
    make.set_defaults(run=_make)
    info = sub.add_parser("info", help="statistics of a D4RL-layout HDF5 file")
    info.add_argument("file")
    info.add_argument("--next-observations", dest="next_observations", default="following_row",
                      choices=["following_row", "stored"])
    info.set_defaults(run=_info)
    args = parser.parse_args(argv)
    args.run(args)
