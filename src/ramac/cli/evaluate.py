"""``ramac evaluate``: evaluate a checkpoint in the task's hazard-wrapped env, print a table, write JSON.

    ramac evaluate --config conf/hopper.yaml --ckpt_path runs/hopper-medium-expert/checkpoints/last.ckpt \\
        --episodes 50 [--horizon 500] [--seed 1000000] [--ood-max-actions 5000] [--out FILE.json] \\
        [any --data.*/--model.* option]

The paper's protocol is 5 training seeds × 10 episodes: run this once per seed's checkpoint. Extra
``--data.*`` options select the same data as training (needed for the OOD detector's index). A members run's
checkpoint (``ramac fit --members``, :mod:`ramac.learners.members`) holds every member: ``--member k`` scores member
``k`` (0-based, in the run's ``--members`` order) with its run's config; each member's own folder also holds its solo
``checkpoints/last.ckpt``, which this command takes with the member folder's ``config.yaml``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from ramac.cli.compose import config_without_fit_keys, expand


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ramac evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("--config", action="append", required=True, help="the run's config (repeatable)")
    parser.add_argument("--ckpt_path", required=True)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=None, help="default: 200 HalfCheetah, 500 Hopper/Walker2d")
    parser.add_argument("--seed", type=int, default=1_000_000, help="episode i resets with seed + i")
    parser.add_argument("--cvar-alpha", type=float, default=0.1)
    parser.add_argument("--ood-neighbours", type=int, default=10)
    parser.add_argument("--ood-kappa", type=float, default=3.0, help="0 switches the OOD rate off")
    parser.add_argument("--ood-max-actions", type=int, default=None,
                        help="score a seeded sample of this many visited actions (a sweep's ood_max_actions)")
    parser.add_argument("--out", default=None, help="JSON file (default: next to the checkpoint)")
    parser.add_argument("--env-workers", type=int, default=1, help="processes stepping the environments")
    parser.add_argument("--member", type=int, default=None,
                        help="which member of a members run's checkpoint to score (0-based)")
    args, overrides = parser.parse_known_args(expand(argv))
    if args.ood_max_actions is not None and args.ood_max_actions < 1:
        parser.error(f"--ood-max-actions must be a positive count of actions, got {args.ood_max_actions}")

    from rich.console import Console
    from rich.table import Table

    from ramac.callbacks.checkpoint import read_checkpoint
    from ramac.cli.fit import build_cli
    from ramac.data.locomotion import StochasticD4RLDataModule
    from ramac.evaluation.evaluate import evaluate_learner
    from ramac.evaluation.ood import NearestNeighbourOOD
    from ramac.evaluation.rollout import EnvPool
    from ramac.learners.members import Members, member_checkpoint
    from ramac.tasks import env_facts

    checkpoint = read_checkpoint(args.ckpt_path)  # a wrong file fails before the task is built
    cli_args = [arg for config in args.config for arg in ("--config", config_without_fit_keys(config))]
    cli = build_cli([*cli_args, *overrides, "--trainer.logger", "false"], run=False)
    model, data = cli.model, cli.datamodule
    if not isinstance(data, StochasticD4RLDataModule):
        raise TypeError(f"ramac evaluate needs a locomotion task config, got data {type(data).__name__}")
    members = checkpoint["ramac"].get("members")
    if (members is None) != (args.member is None):
        raise ValueError(f"--ckpt_path {args.ckpt_path}: " + (
            "holds one run; --member is for a members run's checkpoint" if members is None else
            f"holds {len(members)} members (a members run); say which with --member 0 … {len(members) - 1}"))
    if members is not None:
        checkpoint = member_checkpoint(checkpoint, args.member)
        if isinstance(model, Members):
            model = model.members[args.member]
    model.load_state_dict(checkpoint["state_dict"])
    detector = None
    if args.ood_kappa > 0:
        t = data.transitions
        detector = NearestNeighbourOOD(torch.from_numpy(t.observations), torch.from_numpy(t.actions),
                                       args.ood_neighbours, args.ood_kappa)
    horizon = args.horizon or env_facts(data.env).eval_horizon
    seeds = [args.seed + i for i in range(args.episodes)]
    with EnvPool(data.env_id, data.hazard, horizon, workers=min(args.env_workers, max(1, args.episodes))) as pool:
        values = evaluate_learner(model, data.env, pool, seeds, detector, args.cvar_alpha, policy_seed=args.seed,
                                  ood_max_actions=args.ood_max_actions)
    meta = {"checkpoint": str(Path(args.ckpt_path).resolve()),
            "iteration": checkpoint.get("ramac", {}).get("iteration"), "member": args.member,
            "env_id": data.env_id, "horizon": horizon, "episodes": args.episodes, "seed": args.seed,
            "ood_max_actions": args.ood_max_actions,
            "hazard": None if data.hazard is None else vars(data.hazard)}
    table = Table(title=f"{data.env_id} (hazard-wrapped), {args.episodes} episodes, horizon {horizon}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in values.items():
        if key != "returns":
            table.add_row(key, f"{value:,.4g}")
    Console().print(table)
    out = Path(args.out) if args.out else Path(args.ckpt_path).with_suffix(".eval.json")
    out.write_text(json.dumps({"meta": meta, "metrics": values}, indent=2))
    print(out)
