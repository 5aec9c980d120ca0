"""What a bandit run's distributional critic makes of the two modes (issue 32, open question (3)).

    python bench/bandit_critic_view.py RUN_FOLDER [RUN_FOLDER ...] [--json OUT.json]

For each run folder of a bandit sweep (its ``config.yaml`` and ``checkpoints/last.ckpt``) the script loads the learner
and queries its critic (the minimum over the twin heads, as RADAC's risk term does) at context 0 for the safe centre's
action and for 8 actions on the risky ring (radius 0.6, evenly spaced angles), and prints each mode's value under
every measure of the risk-measure study: the mean, CVaR₀.₁, CVaR₀.₂₅, the mixes λ·E + (1 − λ)·CVaR₀.₁ at λ = 0.5 and
0.95, and Wang(−0.7), each the critic's quantile function averaged over 1000 distorted levels
(``ramac.objectives.risk.distort``), ring values averaged over the 8 angles; and the critic's quantiles of each mode at
τ ∈ {0.05, 0.1, 0.15, 0.2, 0.5}. The exact values of the bandit's reward law (``ramac.envs.bandit``, checked in
``tests/objectives/test_risk.py::test_which_bandit_mode_each_study_measure_prefers``) are printed first, so a critic's
error in either mode's tail is visible, and with it which mode the measure would pick with that critic.

On the one-step bandit RADAC's critic target is the reward alone (every episode ends after one step), so the critic
does not depend on the actor: the runs of one seed that differ only in the actor's risk measure share their critic
bit for bit, and their difference is the measure's alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np
import torch

from ramac.callbacks.checkpoint import read_checkpoint
from ramac.cli.evaluate import config_without_fit_keys
from ramac.cli.fit import build_cli
from ramac.envs.bandit import RiskyBandit
from ramac.objectives.risk import distort, empirical_distorted_value

MEASURES = (("mean", "neutral", 0.1, None), ("CVaR0.1", "cvar", 0.1, None), ("CVaR0.25", "cvar", 0.25, None),
            ("0.5 mix", "mean_cvar", 0.1, 0.5), ("0.95 mix", "mean_cvar", 0.1, 0.95), ("Wang(-0.7)", "wang", 0.1, -0.7))
LEVELS = (torch.arange(1000, dtype=torch.float64) + 0.5) / 1000  # [L] mid-point levels
QUANTILES = (0.05, 0.1, 0.15, 0.2, 0.5)
RING_ANGLES = 8


def mode_actions(bandit: RiskyBandit) -> torch.Tensor:  # -> [1 + RING_ANGLES, 2]: the centre, then the ring
    angles = torch.arange(RING_ANGLES, dtype=torch.float32) * (2 * math.pi / RING_ANGLES)
    ring = bandit.ring_radius * torch.stack([angles.cos(), angles.sin()], dim=1)
    return torch.cat([torch.zeros(1, 2), ring])


def exact_values(bandit: RiskyBandit, samples: int = 2_000_000, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Each measure of the reward law's two modes (centre, ring), from ``samples`` sampled rewards per mode."""
    rng = np.random.default_rng(seed)
    contexts = np.zeros((samples, 2))
    rewards = [torch.from_numpy(bandit.rewards(contexts, np.tile(action, (samples, 1)), rng)[0])
               for action in ((0.0, 0.0), (bandit.ring_radius, 0.0))]
    return {name: tuple(float(empirical_distorted_value(r, distortion, alpha, param)) for r in rewards)
            for name, distortion, alpha, param in MEASURES}


@torch.no_grad()
def critic_view(folder: str) -> dict[str, object]:
    """The critic's value of the centre and of the ring under each measure, and its quantiles of each mode."""
    checkpoint = read_checkpoint(os.path.join(folder, "checkpoints", "last.ckpt"))
    cli = build_cli(["--config", config_without_fit_keys(os.path.join(folder, "config.yaml")),
                     "--trainer.logger", "false"], run=False)
    learner = cli.model
    learner.load_state_dict(checkpoint["state_dict"])
    learner.eval()
    actions = mode_actions(RiskyBandit())
    obs = learner.obs_normalizer(torch.zeros(len(actions), 2))

    def values_at(levels: torch.Tensor) -> torch.Tensor:  # [L] -> [1 + RING_ANGLES, L], the lower of the twin heads
        return learner.critic(obs, actions, levels.float().expand(len(actions), -1)).double().amin(0)  # [E, B, L]

    view: dict[str, object] = {"folder": folder}
    for name, distortion, alpha, param in MEASURES:
        value = values_at(distort(LEVELS, distortion, alpha, param)).mean(-1)
        view[name] = (float(value[0]), float(value[1:].mean()))
    quantiles = values_at(torch.tensor(QUANTILES, dtype=torch.float64))
    view["quantiles"] = {"centre": [round(float(q), 3) for q in quantiles[0]],
                         "ring": [round(float(q), 3) for q in quantiles[1:].mean(0)]}
    return view


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folders", nargs="+", help="bandit run folders (config.yaml, checkpoints/last.ckpt)")
    parser.add_argument("--json", default=None, help="also write every view to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    header = "".join(f"{name:>18s}" for name, *_ in MEASURES)
    print(f"{'run':40s}{header}   (centre / ring)")
    exact = exact_values(RiskyBandit())
    print(f"{'the reward law':40s}" + "".join(f"{c:>8.2f} / {r:<7.2f}" for c, r in exact.values()))
    views = []
    for folder in args.folders:
        view = critic_view(folder)
        views.append(view)
        label = os.path.relpath(folder)[-40:]
        print(f"{label:40s}" + "".join(f"{view[n][0]:>8.2f} / {view[n][1]:<7.2f}" for n, *_ in MEASURES))
        print(f"{'':40s}quantiles at τ = {QUANTILES}: centre {view['quantiles']['centre']}, "
              f"ring {view['quantiles']['ring']}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"exact": exact, "runs": views}, handle, indent=1)


if __name__ == "__main__":
    main()
