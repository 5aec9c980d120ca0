"""What a trained critic should read at the data's actions: the Monte-Carlo discounted return-to-go of a task's
dataset (hazard penalties included, clipped to RADAC's target range), printed as mean and lower tail.

The pilot of README "Results" compares the critic's mean estimate at the data's actions (``train/critic/z_mean``)
against this mean to tell whether the critic is trained when the risk term starts.

    python bench/critic_reference.py --task hopper-medium-expert [--discount 0.99] [--clip 300]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import yaml

from ramac.data.locomotion import StochasticD4RLDataModule
from ramac.envs.hazards import Hazard

CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "conf", "tasks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="hopper-medium-expert")
    parser.add_argument("--discount", type=float, default=0.99)
    parser.add_argument("--clip", type=float, default=300.0, help="RADAC's target_clip (the released ±300)")
    args = parser.parse_args()
    with open(os.path.join(CONF, f"{args.task}.yaml")) as handle:
        data = dict(yaml.safe_load(handle)["data"]["init_args"])
    data["hazard"] = Hazard(**data["hazard"])
    module = StochasticD4RLDataModule(**data)
    module.prepare_data()
    module.setup("fit")
    returns = np.clip(module.transitions.returns_to_go(args.discount), -args.clip, args.clip)
    tail = np.sort(returns)[: max(1, len(returns) // 10)]
    print(f"{args.task} ({module.transitions.source}): {len(returns)} rows, discount {args.discount}, "
          f"clip ±{args.clip:g}")
    print(f"discounted return-to-go: mean {returns.mean():.1f}, lower 10 % mean {tail.mean():.1f}, "
          f"percentiles 10/50/90: {', '.join(f'{p:.1f}' for p in np.percentile(returns, [10, 50, 90]))}")


if __name__ == "__main__":
    main()
