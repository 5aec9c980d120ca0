"""How often runs take the hazard, evaluation by evaluation: the risky-step share, penalties and episode length.

A risk term that works should lower the share of steps a policy spends in the hazard's risky region; one that climbs an
over-rated critic may raise it. For each run folder (its ``eval.json``, written by ``RolloutEvaluation``), this prints
every evaluation's penalties per episode, risky-step share, episode length and OOD rate, and, when ``--switch`` names
the iteration the risk term starts, whether the last evaluation's risky-step share is above the switch's and by how
much, with the episode lengths beside it (a longer episode pays more penalties at the same share).
docs/results/collapse.md ("The risk term makes the released pairing take the hazard more") cites it:

    python bench/risky_steps.py --switch 10000 \
        results/sweeps/hopper-released-gen2/hopper-medium-expert/radac/quantile_pairing=released/seed* \
        results/sweeps/hopper-study-radac/hopper-medium-expert/radac/quantile_pairing=released/seed* \
        results/released/hopper-medium-expert/seed[0-2]
"""

from __future__ import annotations

import argparse
import json
import os


def history(folder: str) -> list[dict]:
    """The evaluations of the run in ``folder``, in iteration order; a one-line error when it has none."""
    path = os.path.join(folder, "eval.json")
    if not os.path.isfile(path):
        raise SystemExit(f"{folder}: no eval.json (not a finished locomotion run)")
    with open(path) as handle:
        evaluations = json.load(handle)["history"]
    missing = {"risky_state_rate", "penalties_per_episode", "episode_length"} - set(evaluations[0])
    if missing:
        raise SystemExit(f"{path}: no {sorted(missing)} (written by an older evaluation)")
    return sorted(evaluations, key=lambda e: e["iteration"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="run folders holding eval.json")
    parser.add_argument("--switch", type=int, default=None, help="the iteration the risk term starts")
    args = parser.parse_args()
    rises = 0
    for folder in args.folders:
        evaluations = history(folder)
        print(folder)
        for e in evaluations:
            print(f"  {int(e['iteration']):>7}  penalties/episode {e['penalties_per_episode']:5.2f}  "
                  f"risky steps {e['risky_state_rate'] * 100:5.1f} %  length {e['episode_length']:5.0f}  "
                  f"OOD {e.get('ood_action_rate', float('nan')) * 100:5.1f} %")
        if args.switch is not None:
            at_switch = [e for e in evaluations if e["iteration"] == args.switch]
            if not at_switch:
                raise SystemExit(f"{folder}: no evaluation at iteration {args.switch} (--switch)")
            before, last = at_switch[0], evaluations[-1]
            rises += last["risky_state_rate"] > before["risky_state_rate"]
            print(f"  switch → last: risky steps {before['risky_state_rate'] * 100:.1f} → "
                  f"{last['risky_state_rate'] * 100:.1f} %, length {before['episode_length']:.0f} → "
                  f"{last['episode_length']:.0f}")
    if args.switch is not None:
        print(f"risky-step share above the switch's at the last evaluation: {rises} of {len(args.folders)} runs")


if __name__ == "__main__":
    main()
