"""``ramac data ...``: behaviour-policy training and dataset tools.

    ramac data train-behaviour Hopper-v5 --steps 300000          # resumable SAC run (hours on a CPU)
    ramac data make hopper-medium-expert                         # a dataset from the shipped zoo
    ramac data verify FILE                                       # its data checksum against the published one
    ramac data rollout Hopper-v5 --policy actor.pt --size 1000000  # any actor into a D4RL-layout file
    ramac data promote RUN Hopper-v5 --medium-return 1100 --expert-return 3000
    ramac data list
    ramac data info FILE                                         # statistics of a D4RL-layout file
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ramac.zoo.paths import datasets_dir, ramac_home
from ramac.zoo.policy import GENERATION, GENERATIONS

GENERATION_HELP = ("policy arithmetic: 2, the same data on every CPU; 1, that of the first studies, which depends "
                   "on the CPU (README \"Data\")")


def _train_behaviour(args: argparse.Namespace) -> None:
    from ramac.zoo.sac import SACConfig, SACTrainer

    torch.set_num_threads(args.threads)
    out = Path(args.out) if args.out else ramac_home() / "behaviour" / f"{args.env}-seed{args.seed}"
    config = SACConfig(env_id=args.env, total_steps=args.steps, seed=args.seed)
    trainer = SACTrainer(config, out)
    print(f"training SAC on {args.env} in {out} from step {trainer.step} to {args.steps} "
          f"(resumes from {out / 'checkpoint.pt'} when stopped)", flush=True)
    trainer.train()


def _rollout(args: argparse.Namespace) -> None:
    from rich.progress import Progress

    from ramac.zoo.datasets import write_hdf5
    from ramac.zoo.policy import ZooPolicy
    from ramac.zoo.registry import action_box, software_versions
    from ramac.zoo.rollouts import collect

    policy = ZooPolicy.load(args.policy, action_box(args.env)[1], args.generation)
    out = Path(args.out) if args.out else datasets_dir() / f"{args.env}-{Path(args.policy).stem}.hdf5"
    with Progress() as progress:
        task = progress.add_task(f"rolling out {Path(args.policy).name} in {args.env}", total=args.size)
        data = collect(args.env, policy, args.size, args.seed, progress=lambda rows: progress.advance(task, rows))
    provenance = {"env_id": args.env, "policy": str(args.policy), "seed": args.seed, "size": args.size,
                  **software_versions(), "sampling": "stochastic", "generation": args.generation}
    print(write_hdf5(out, data, provenance))


def _make(args: argparse.Namespace) -> None:
    from ramac.zoo.registry import make_dataset

    print(make_dataset(args.name, args.size, args.seed, Path(args.out) if args.out else None, args.workers,
                       args.generation))


def _verify(args: argparse.Namespace) -> None:
    from ramac.zoo.checksums import verify_file

    if not Path(args.file).is_file():
        raise SystemExit(f"ramac data verify: {args.file}: no such file")
    verdict = verify_file(args.file)
    print(verdict.message)
    if not verdict.ok:
        raise SystemExit(1)


def _promote(args: argparse.Namespace) -> None:
    from ramac.zoo.registry import promote

    print(promote(args.run, args.env, args.medium_return, args.expert_return))


def _list(args: argparse.Namespace) -> None:
    from rich.console import Console
    from rich.table import Table

    from ramac.data.d4rl import d4rl_cache_dir, d4rl_stem
    from ramac.tasks import ENVS, ZOO_DATASETS
    from ramac.zoo.registry import ZOO_DIR

    table = Table(title="datasets")
    for column in ("name", "D4RL v2 file", "zoo (gymnasium v5)"):
        table.add_column(column)
    for env, env_id in ((env, facts.gym_id) for env, facts in ENVS.items()):
        shipped = (ZOO_DIR / env_id / "provenance.json").exists()
        for dataset in ZOO_DATASETS:
            d4rl_file = d4rl_cache_dir() / f"{d4rl_stem(env, dataset)}.hdf5"
            made = sorted(datasets_dir().glob(f"{env_id}-{dataset}-zoo-*.hdf5"))
            zoo = ", ".join(str(p) for p in made) if made else ("can be made" if shipped else "no zoo policy yet")
            table.add_row(f"{env}-{dataset}", str(d4rl_file) if d4rl_file.exists() else "not cached", zoo)
    Console().print(table)


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
    train.set_defaults(handler=_train_behaviour)
    rollout = sub.add_parser("rollout", help="roll out any trained actor into a D4RL-layout dataset")
    rollout.add_argument("env", help="gymnasium environment id, e.g. Hopper-v5")
    rollout.add_argument("--policy", required=True, help="actor weights written by train-behaviour (snapshots/*.pt)")
    rollout.add_argument("--size", type=int, default=1_000_000, help="transitions (rows) to write")
    rollout.add_argument("--seed", type=int, default=0)
    rollout.add_argument("--out", default=None, help="output file (default: $RAMAC_DATA_DIR/datasets/...)")
    rollout.add_argument("--generation", type=int, default=GENERATION, choices=GENERATIONS,
                         help=GENERATION_HELP)
    rollout.set_defaults(handler=_rollout)
    make = sub.add_parser("make", help="make a dataset from the shipped zoo, e.g. hopper-medium-expert")
    make.add_argument("name", help="<env>-<dataset>: env hopper|walker2d|halfcheetah, dataset "
                                   "medium|expert|medium-expert|medium-replay")
    make.add_argument("--size", type=int, default=None, help="transitions (default: D4RL's sizes)")
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--out", default=None, help="output file (default: the cache used by the task configs)")
    make.add_argument("--workers", type=int, default=2,
                      help="rollout processes (generation 2's data do not depend on it, generation 1's do)")
    make.add_argument("--generation", type=int, default=GENERATION, choices=GENERATIONS, help=GENERATION_HELP)
    make.set_defaults(handler=_make)
    verify = sub.add_parser("verify", help="a D4RL-layout file's data checksum against the published one "
                                           "(exit status 1 when it differs)")
    verify.add_argument("file")
    verify.set_defaults(handler=_verify)
    promote = sub.add_parser("promote", help="copy a run's medium/expert (and replay) snapshots into the zoo")
    promote.add_argument("run", help="a train-behaviour run folder")
    promote.add_argument("env", help="gymnasium environment id")
    promote.add_argument("--medium-return", type=float, required=True)
    promote.add_argument("--expert-return", type=float, default=None)
    promote.set_defaults(handler=_promote)
    listing = sub.add_parser("list", help="known datasets, their sources and whether they are on disk")
    listing.set_defaults(handler=_list)
    info = sub.add_parser("info", help="statistics of a D4RL-layout HDF5 file")
    info.add_argument("file")
    info.add_argument("--next-observations", dest="next_observations", default="following_row",
                      choices=["following_row", "stored"])
    info.set_defaults(handler=_info)
    args = parser.parse_args(argv)
    args.handler(args)
