"""One run's state at the switch, continued on other random streams: is the fall after the switch that state's fate?

    python bench/switch_forks.py --config RUN/config.yaml --checkpoint SWITCH.ckpt --seeds 0 1 2 \\
        --until 15000 --at 10005 10010 10020 10050 10100 10200 10500 11000 --out results/released/forks

Issue 28, item 1. A ramac run draws its batches and random numbers from a generator seeded by (seed, iteration)
(``OfflineLearner.iteration_generator``), so continuing a full checkpoint under another seed changes every draw after
it and nothing before. For each ``--seeds`` value this copies the checkpoint with that seed written in (its
``ramac.seed``, the learner's ``seed`` hyperparameter and any ``--model-option``: ``ramac fit --ckpt_path`` takes the
learner's options from the checkpoint, and it refuses to resume a checkpoint under another
seed, which is right for a resume and is exactly what a fork is not) and runs ``ramac fit --config
OUT/seed<SEED>/fork-config.yaml --ckpt_path FORK``: the run's config with that seed, ``--until`` iterations, the
run's evaluation every ``--every`` iterations and at ``--at``, any ``--model-option`` changed, in ``OUT/seed<SEED>/``
(its ``eval.json`` as in any run; the forked checkpoint is deleted after). The run's own seed continues the run as it
went. A fork whose ``eval.json`` reaches ``--until`` is skipped and a started one resumes from its ``last.ckpt``, so
the command picks up where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch
import yaml


def fork(checkpoint: str, seed: int, model: dict[str, object], path: str) -> None:
    """``checkpoint`` with ``seed`` as its learner's seed and the ``model`` options in its hyperparameters, written
    whole to ``path`` (``ramac fit --ckpt_path`` takes the learner's options from the checkpoint: LightningCLI)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    if "optimizer_states" not in state:
        raise SystemExit(f"{checkpoint}: weights only; a fork needs the full state (optimizers included)")
    state["ramac"]["seed"] = seed
    state["hyper_parameters"]["seed"] = seed
    state["hyper_parameters"].update(model)  # names checked against the run's config in fork_config
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def fork_config(config: str, seed: int, until: int, every: int, at: list[int], model: dict[str, object],
                folder: str) -> str:
    """The run's config for a fork: its seed, length, folder, evaluation points (no kept checkpoints) and any
    learner options changed (``model``)."""
    with open(config) as handle:
        content = yaml.safe_load(handle)
    content["seed_everything"] = seed
    unknown = sorted(set(model) - set(content["model"]["init_args"]))
    if unknown:
        raise SystemExit(f"{config}: --model-option {', '.join(unknown)}: not an option of the run's learner")
    content["model"]["init_args"].update(model)
    trainer = content["trainer"]
    trainer.update(max_steps=until, default_root_dir=os.path.abspath(folder))
    evaluations = [c for c in trainer.get("callbacks") or [] if c["class_path"].endswith("RolloutEvaluation")]
    if len(evaluations) != 1:
        raise SystemExit(f"{config}: expected one RolloutEvaluation callback, found {len(evaluations)}")
    evaluations[0]["init_args"].update(every_n_iterations=every, keep_checkpoints=False, at_iterations=at or None)
    path = os.path.join(folder, "fork-config.yaml")
    with open(path, "w") as handle:
        yaml.safe_dump(content, handle, sort_keys=False)
    return path


def finished(folder: str, until: int) -> bool:
    try:
        with open(os.path.join(folder, "eval.json")) as handle:
            history = json.load(handle)["history"]
    except (OSError, KeyError, ValueError):
        return False
    return any(int(entry["iteration"]) >= until for entry in history)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="the run's config.yaml")
    parser.add_argument("--checkpoint", required=True, help="a full checkpoint of the run (with the optimizers)")
    parser.add_argument("--seeds", type=int, nargs="+", required=True)
    parser.add_argument("--until", type=int, required=True, help="iterations to train to")
    parser.add_argument("--every", type=int, default=2500, help="evaluation interval (iterations)")
    parser.add_argument("--at", type=int, nargs="*", default=[], help="further iterations to evaluate at")
    parser.add_argument("--model-option", action="append", default=[], metavar="NAME=VALUE",
                        help="change a learner option in the forks (e.g. risk_weight=0: the BC-only control)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = {}
    for option in args.model_option:
        name, sep, value = option.partition("=")
        if not sep:
            parser.error(f"--model-option {option!r}: expected NAME=VALUE")
        model[name] = yaml.safe_load(value)
    ramac = os.path.join(os.path.dirname(sys.executable), "ramac")
    for seed in args.seeds:
        folder = os.path.join(args.out, f"seed{seed}")
        if finished(folder, args.until):
            print(f"{folder}: done", flush=True)
            continue
        os.makedirs(folder, exist_ok=True)
        resume = os.path.join(folder, "checkpoints", "last.ckpt")
        forked = os.path.join(folder, "fork.ckpt")
        config = fork_config(args.config, seed, args.until, args.every, args.at, model, folder)
        if not os.path.exists(resume):
            fork(args.checkpoint, seed, model, forked)
        cmd = [ramac, "fit", "--config", config, "--ckpt_path", resume if os.path.exists(resume) else forked]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        if os.path.exists(forked):
            os.remove(forked)


if __name__ == "__main__":
    main()
