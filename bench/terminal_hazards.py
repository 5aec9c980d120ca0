"""Penalties gained by deciding the hazard of terminal rows on the true next state (issue 10, README).

For each task config, the zoo dataset (made if missing) is read three ways with the default
``following_row`` rule: with ``d4rl.qlearning_dataset``'s pairing (a terminal row's next observation is
the next episode's first state), with the file's stored next observations at the terminal rows (ramac's
default) and with those rows re-simulated (what ramac does for a file without ``next_observations``).
The penalty draws are the same (``hazard_seed`` 0), so the counts differ only at the terminal rows.

    cd bench && python terminal_hazards.py [--task hopper-medium-expert ...]
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
from zoo_table import task_hazard

from ramac.data.d4rl import d4rl_transitions, read_d4rl_file
from ramac.data.hazards import relabel
from ramac.envs.resimulation import simulate_next_observations
from ramac.tasks import ENVS
from ramac.zoo.registry import make_dataset

TASKS = ("hopper-medium-expert", "hopper-medium-replay", "walker2d-medium-expert", "walker2d-medium-replay",
         "halfcheetah-medium-expert", "halfcheetah-medium-replay")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", action="append", choices=TASKS)
    args = parser.parse_args()
    print("| task | transitions | terminal rows | penalties, qlearning_dataset pairing | penalties, true next state "
          "(stored) | of them at terminal rows | risky terminal rows | penalties, terminal rows re-simulated |")
    print("|---|---|---|---|---|---|---|---|")
    for task in args.task or TASKS:
        env, dataset = task.split("-", 1)
        hazard = task_hazard(env, dataset)
        raw = read_d4rl_file(make_dataset(task, None, 0))
        stored = d4rl_transitions(raw, task)
        without_next = {k: v for k, v in raw.items() if k != "next_observations"}
        resimulated = d4rl_transitions(without_next, task, simulate_next=partial(simulate_next_observations,
                                                                                 ENVS[env].gym_id))
        old = d4rl_transitions(without_next, task)  # qlearning_dataset's pairing
        draws = np.random.default_rng(0).random(len(old))  # relabel's draws for hazard_seed 0
        old_penalties = hazard.is_risky(old.next_observations) & (draws < hazard.probability)
        result = relabel(stored, hazard, seed=0)
        new = result.penalised
        simulated = relabel(resimulated, hazard, seed=0).penalised
        terminal = stored.terminals == 1
        print(f"| {task} | {len(stored):,} | {int(terminal.sum()):,} | {int(old_penalties.sum()):,} | "
              f"{int(new.sum()):,} (+{int(new.sum() - old_penalties.sum()):,}) | {int(new[terminal].sum()):,} | "
              f"{int(result.risky[terminal].sum()):,} | {int(simulated.sum()):,} |", flush=True)


if __name__ == "__main__":
    main()
