"""Statistics of the zoo datasets for the README: make each dataset (timed), relabel it with its task's
hazard, and print a Markdown table.

    python bench/zoo_table.py                 # all environments with shipped policies, D4RL's sizes
    python bench/zoo_table.py --size 100000   # quicker, smaller datasets

medium and expert have no task config of their own; they are relabelled with the hazard of the same
environment's medium-expert config. Normalised returns use D4RL's reference returns on the v5 envs.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import yaml

from ramac.data.d4rl import d4rl_transitions, read_d4rl_file
from ramac.data.hazards import relabel
from ramac.data.statistics import dataset_statistics
from ramac.envs.hazards import Hazard
from ramac.tasks import ENVS, ZOO_DATASETS
from ramac.zoo.registry import ZOO_DIR, make_dataset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def task_hazard(env: str, dataset: str) -> Hazard:
    task = dataset if dataset in ("medium-expert", "medium-replay") else "medium-expert"
    with open(os.path.join(ROOT, "conf", "tasks", f"{env}-{task}.yaml")) as handle:
        return Hazard(**yaml.safe_load(handle)["data"]["init_args"]["hazard"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--env", action="append", choices=sorted(ENVS), help="only these (repeatable)")
    args = parser.parse_args()
    print("| dataset | transitions | episodes | return mean / min / max | normalised return | risky share | "
          "make time |")
    print("|---|---|---|---|---|---|---|")
    for env, env_id in ((env, facts.gym_id) for env, facts in ENVS.items()):
        if not (ZOO_DIR / env_id / "provenance.json").exists() or (args.env and env not in args.env):
            continue
        for dataset in ZOO_DATASETS:
            start = time.perf_counter()
            path = make_dataset(f"{env}-{dataset}", args.size, args.seed, workers=args.workers)
            seconds = time.perf_counter() - start
            transitions = d4rl_transitions(read_d4rl_file(path), str(path))
            result = relabel(transitions, task_hazard(env, dataset), seed=0)
            stats = dataset_statistics(transitions)
            low, high = ENVS[env].d4rl_reference
            score = 100 * (stats["return_mean"] - low) / (high - low)
            print(f"| {env}-{dataset} | {stats['transitions']:,} | {stats['episodes']:,} | "
                  f"{stats['return_mean']:.0f} / {stats['return_min']:.0f} / {stats['return_max']:.0f} | "
                  f"{score:.1f} | {np.mean(result.risky):.3f} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
