"""One figure with every algorithm's bandit samples (issues 12-13), from the runs of ``bench/bandit_study.sh``.

    python bench/bandit_panel.py [--seed 0] [--out results/bandit/panel.png]

Each learner is rebuilt from its composed config, loaded from ``runs/study/bandit/<algo>/seed<S>/checkpoints/
last.ckpt`` and sampled exactly as ``BanditReport`` samples it (same contexts and sampler seed), so the panels
show the numbers of ``results/bandit/<algo>-seed<S>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings

import numpy as np
import torch

from ramac.callbacks.bandit import BanditReport
from ramac.callbacks.checkpoint import read_checkpoint
from ramac.cli.fit import build_cli
from ramac.envs.bandit import RING, SAFE, RiskyBandit

ALGOS = ("bc", "radac", "rafmac", "diffusion_ql", "fql", "oraac", "oraac_diffusion", "oraac_flow", "cql", "codac")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def samples(algo: str, seed: int, report: BanditReport) -> tuple[RiskyBandit, np.ndarray, np.ndarray]:
    root = os.path.join(REPO, "runs", "study", "bandit", algo, f"seed{seed}")
    cli = build_cli(["--algo", algo, "--task", "bandit", "--conf_dir", os.path.join(REPO, "conf"),
                     "--seed_everything", str(seed), "--trainer.logger", "false"], run=False)
    model, bandit = cli.model, cli.datamodule.bandit
    model.load_state_dict(read_checkpoint(os.path.join(root, "checkpoints", "last.ckpt"))["state_dict"])
    model.eval()
    rng = np.random.default_rng(report.sample_seed)
    contexts = bandit.sample_contexts(report.num_samples, rng)
    with torch.no_grad():
        actions = model.act(torch.as_tensor(contexts, dtype=torch.float32),
                            torch.Generator().manual_seed(report.sample_seed)).numpy()
    return bandit, contexts, actions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(REPO, "results", "bandit", "panel.png"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    report = BanditReport()
    columns = 5
    rows = -(-len(ALGOS) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 4.4 * rows), constrained_layout=True)
    for ax, algo in zip(axes.flat, ALGOS, strict=True):
        bandit, contexts, actions = samples(algo, args.seed, report)
        region = bandit.regions(contexts, actions)
        with open(os.path.join(REPO, "results", "bandit", f"{algo}-seed{args.seed}.json")) as handle:
            recorded = json.load(handle)
        assert abs(recorded["safe_fraction_learner"] - float(np.mean(region == SAFE))) < 1e-9, algo
        ax.scatter(*(actions - bandit.centres(contexts)).T, s=4)
        ax.add_patch(plt.Circle((0, 0), bandit.safe_radius, fill=False, ls="--", color="green"))
        for radius in (bandit.ring_radius - bandit.ring_halfwidth, bandit.ring_radius + bandit.ring_halfwidth):
            ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls=":", color="red"))
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal",
               title=f"{algo}\ncentre {np.mean(region == SAFE):.0%}, ring {np.mean(region == RING):.0%}, "
                     f"between {np.mean(region == 2):.0%}")
    fig.suptitle(f"2-D risky bandit, seed {args.seed}, 3000 iterations: each learner's evaluated policy")
    fig.savefig(args.out, dpi=90)
    print(args.out)


if __name__ == "__main__":
    main()
