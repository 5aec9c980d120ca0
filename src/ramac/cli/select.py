"""``ramac select``: the checkpoint-selection protocols of :mod:`ramac.experiments.selection`, re-evaluated.

    ramac select results/sweeps/hopper-pilot [RUN_OR_SWEEP_FOLDER ...] [--episodes 100] [--seed 2000000]
        [--selection-episodes 10] [--env-workers 1] [--force]

For every locomotion run under the folders (a folder with ``eval.json``), each rule picks an evaluation point from the
run's history; each picked checkpoint (``checkpoints/eval-<iteration>.ckpt``) is evaluated again on ``--episodes``
fresh episodes (reset seeds ``--seed + i``, the policy's noise seeded with ``--seed``), and ``selection.json`` is
written into the run's folder. A run whose ``selection.json`` was made with the same options is skipped (``--force``
redoes it). ``ramac report`` then shows each rule's reported figure, its re-evaluated figure and the gap.
"""

from __future__ import annotations

import argparse
import glob
import os


def _config(folder: str) -> str:
    """The run's resolved config: a sweep cell's ``config.yaml``, else the newest Lightning version's."""
    own = os.path.join(folder, "config.yaml")
    if os.path.isfile(own):
        return own
    versions = sorted(glob.glob(os.path.join(folder, "lightning_logs", "version_*", "config.yaml")),
                      key=lambda p: int(p.split("version_")[-1].split(os.sep)[0]))
    if not versions:
        raise FileNotFoundError(f"{folder}: no config.yaml to rebuild the run's learner and task from")
    return versions[-1]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ramac select", description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="run or sweep folders")
    parser.add_argument("--episodes", type=int, default=100, help="fresh episodes per chosen checkpoint")
    parser.add_argument("--seed", type=int, default=None, help="first reset seed (default: selection.FRESH_SEED)")
    parser.add_argument("--selection-episodes", type=int, default=None,
                        help="choose on each evaluation's first N episodes (10: the released protocol); default all")
    parser.add_argument("--env-workers", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="redo runs that already have selection.json")
    args = parser.parse_args(argv)
    for name, value in (("--episodes", args.episodes), ("--selection-episodes", args.selection_episodes),
                        ("--env-workers", args.env_workers)):
        if value is not None and value < 1:
            parser.error(f"{name} must be >= 1, got {value}")

    import json

    from ramac.callbacks.checkpoint import read_checkpoint
    from ramac.cli.compose import config_without_fit_keys
    from ramac.cli.fit import build_cli
    from ramac.data.locomotion import StochasticD4RLDataModule
    from ramac.evaluation.evaluate import evaluate_learner
    from ramac.evaluation.rollout import EnvPool
    from ramac.experiments.runs import lower_tail_mean, read_trace
    from ramac.experiments.selection import (
        BC_KEY,
        BC_WINDOW,
        FRESH_SEED,
        SELECTION_FILE,
        choose,
        kept_checkpoint,
        write_selection,
    )

    seed = FRESH_SEED if args.seed is None else args.seed
    meta = {"episodes": args.episodes, "seed": seed, "selection_episodes": args.selection_episodes,
            "bc_window": BC_WINDOW}
    runs = []
    for folder in args.folders:
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such folder")
        runs += sorted(root for root, _, files in os.walk(folder) if "eval.json" in files)
    if not runs:
        raise FileNotFoundError(f"no run with eval.json under {' '.join(args.folders)}")
    for run in runs:
        with open(os.path.join(run, "eval.json")) as handle:
            content = json.load(handle)
        history, horizon = content["history"], content["meta"]["horizon"]
        existing = os.path.join(run, SELECTION_FILE)
        if os.path.isfile(existing) and not args.force:
            with open(existing) as handle:
                if json.load(handle).get("meta") == {**meta, "horizon": horizon}:
                    print(f"{run}: {SELECTION_FILE} made with these options; skipped")
                    continue
        choices = choose(history, read_trace(run, (BC_KEY,)).get(BC_KEY), args.selection_episodes)
        paths = {c.iteration: kept_checkpoint(run, c.iteration) for c in choices.values()}  # all present first
        cli = build_cli(["--config", config_without_fit_keys(_config(run)), "--trainer.logger", "false"], run=False)
        model, data = cli.model, cli.datamodule
        if not isinstance(data, StochasticD4RLDataModule):
            raise TypeError(f"{run}: ramac select needs a locomotion run, got data {type(data).__name__}")
        again = {}
        seeds = [seed + i for i in range(args.episodes)]
        with EnvPool(data.env_id, data.hazard, horizon, workers=min(args.env_workers, args.episodes)) as pool:
            for iteration, path in sorted(paths.items()):
                model.load_state_dict(read_checkpoint(path)["state_dict"])
                values = evaluate_learner(model, data.env, pool, seeds, None, policy_seed=seed)
                again[iteration] = {"mean": values["return_mean"], "cvar": lower_tail_mean(values["returns"])}
                print(f"{run}: iteration {iteration}: mean {again[iteration]['mean']:.1f}, "
                      f"CVaR₀.₁ {again[iteration]['cvar']:.1f} ({args.episodes} fresh episodes)")
        print(write_selection(run, choices, again, {**meta, "horizon": horizon}))
