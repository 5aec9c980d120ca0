"""How a task's hazard falls on its offline data, episode by episode.

Whether a dataset can teach risk aversion depends on how its risky steps are spread: if every episode pays about the
same, a policy that clones the data cannot avoid the hazard by choosing among the data's behaviours; if some episodes
(or states) are far safer than others at a similar return, there is a safe mode for a risk term to pick. For the
task's data as ``ramac fit`` relabels them (the task's hazard and hazard seed), this prints and writes, per complete
episode: the share of risky steps, the penalties paid, the return with and without them; their quantiles over
episodes; the same split by the unpenalised return's median (in a medium-expert mixture, roughly the medium and the
expert halves); and the rank correlation of risky share and unpenalised return.

    python bench/hazard_episodes.py --task hopper-medium-expert-energy \
        --out results/analysis/hazard-episodes-hopper-medium-expert-energy.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import numpy as np

from ramac.data.statistics import episode_sums

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def episode_table(rewards: np.ndarray, risky: np.ndarray, penalised: np.ndarray, episode_ends: np.ndarray,
                  penalty: float) -> dict[str, np.ndarray]:
    """Per complete episode (rows up to the last ``episode_ends`` flag): length, risky share, penalties paid, the
    return as relabelled and the return without the penalties (``Σ r − penalty · #penalised``)."""
    lengths = episode_sums(np.ones(len(rewards)), episode_ends)
    penalties = episode_sums(penalised.astype(np.float64), episode_ends)
    returns = episode_sums(rewards, episode_ends)
    return {"length": lengths, "risky_share": episode_sums(risky.astype(np.float64), episode_ends) / lengths,
            "penalties": penalties, "return": returns, "return_unpenalised": returns - penalty * penalties}


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's ρ (Pearson's correlation of the ranks; ties broken by order, enough for continuous figures)."""
    rank_x, rank_y = np.argsort(np.argsort(x)), np.argsort(np.argsort(y))
    return float(np.corrcoef(rank_x, rank_y)[0, 1])


def summary(table: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    return {key: {"mean": float(values.mean()), **{f"q{q:g}": float(np.quantile(values, q)) for q in QUANTILES}}
            for key, values in table.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", required=True, help="a task of conf/tasks with a hazard")
    parser.add_argument("--out", help="write the figures to this JSON file")
    args = parser.parse_args()

    from ramac.cli.fit import build_cli

    data = build_cli(["--algo", "bc", "--task", args.task, "--trainer.logger", "false"], run=False).datamodule
    transitions = data.transitions
    if data.risky is None or data.penalised is None:
        raise SystemExit(f"--task {args.task}: the task has no hazard, so there is nothing to count")
    table = episode_table(transitions.rewards, data.risky, data.penalised, transitions.episode_ends,
                          data.hazard.penalty)
    median = np.median(table["return_unpenalised"])
    lower = table["return_unpenalised"] <= median
    figures = {
        "task": args.task, "data": data.describe(), "hazard": dataclasses.asdict(data.hazard),
        "transitions": len(transitions), "episodes": int(table["length"].size),
        "risky_share_of_steps": float(data.risky.mean()),
        "all": summary(table),
        "lower_half_by_unpenalised_return": summary({k: v[lower] for k, v in table.items()}),
        "upper_half_by_unpenalised_return": summary({k: v[~lower] for k, v in table.items()}),
        "rank_correlation_risky_share_unpenalised_return": rank_correlation(table["risky_share"],
                                                                            table["return_unpenalised"]),
    }
    print(f"{args.task}: {figures['episodes']} episodes, {figures['transitions']:,} transitions, "
          f"{100 * figures['risky_share_of_steps']:.1f} % of steps risky")
    print(f"{'':34}{'mean':>10}" + "".join(f"{f'q{q:g}':>10}" for q in QUANTILES))
    for part in ("all", "lower_half_by_unpenalised_return", "upper_half_by_unpenalised_return"):
        print(part)
        for key, row in figures[part].items():
            print(f"  {key:32}" + "".join(f"{value:10.3f}" for value in row.values()))
    print(f"rank correlation (risky share, unpenalised return): "
          f"{figures['rank_correlation_risky_share_unpenalised_return']:.3f}")
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            json.dump(figures, handle, indent=1)
            handle.write("\n")


if __name__ == "__main__":
    main()
