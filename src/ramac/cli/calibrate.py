"""``ramac calibrate``: does the critic see the tail it is asked to optimise? (issue 28, item 4)

    ramac calibrate --config RUN/config.yaml --ckpt_path RUN/checkpoints/last.ckpt [--pairs 20] [--copies 50]
        [--horizon H] [--seed 3000000] [--out FILE.json] [any --data.*/--model.* option]

From the run's training data it takes ``--pairs`` state-action pairs, half whose next state is risky (where the
task's hazard can fire) and half ordinary non-terminal ones, drawn with ``--seed``; for each it compares the critic's
return quantiles at ``(s, a)`` (the element-wise minimum over its twins, the estimate the actor optimises) with
``--copies`` Monte-Carlo returns from that state (:mod:`ramac.evaluation.monte_carlo`: the dataset action first, then
the run's policy, independent hazard draws, the critic's γ, ``--horizon`` steps: by default the fewest after which
γ^H ≤ 10⁻³). The figures (:mod:`ramac.evaluation.calibration`: coverage at τ ∈ {0.05 … 0.9}, CRPS, W₁, predicted and
empirical CVaR₀.₁, each also per Monte-Carlo σ) are printed for the risky pairs, the ordinary ones and all, and
written with every pair's quantiles and returns to ``--out`` (default: next to the checkpoint,
``<name>.calibration.json``), with a coverage figure beside it (``.png``).

The pairs come from the data the run trained on (ramac trains on every episode; a held-out split is not built): a
critic that is miscalibrated there is no better elsewhere. States are rebuilt from observations as the released
code's relabelling does, so velocities the observation clipped are not the true ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ramac.cli.compose import config_without_fit_keys, expand


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ramac calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--config", action="append", required=True, help="the run's config (repeatable)")
    parser.add_argument("--ckpt_path", required=True)
    parser.add_argument("--pairs", type=int, default=20, help="state-action pairs (half risky, half ordinary)")
    parser.add_argument("--copies", type=int, default=50, help="Monte-Carlo rollouts per pair")
    parser.add_argument("--horizon", type=int, default=None, help="steps per rollout (default: γ^H <= 1e-3)")
    parser.add_argument("--seed", type=int, default=3_000_000, help="draws the pairs; rollout seeds follow it")
    parser.add_argument("--out", default=None)
    args, overrides = parser.parse_known_args(expand(argv))
    for name in ("pairs", "copies", "horizon"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be >= 1, got {value}")

    import numpy as np
    import torch

    from ramac.callbacks.checkpoint import read_checkpoint
    from ramac.cli.fit import build_cli
    from ramac.critics.iqn import TwinIQNCritic
    from ramac.critics.quantile_mlp import TwinQuantileCritic
    from ramac.data.locomotion import StochasticD4RLDataModule
    from ramac.evaluation.calibration import COVERAGE_LEVELS, level_grid, summary
    from ramac.evaluation.monte_carlo import discounted_horizon, monte_carlo_returns

    checkpoint = read_checkpoint(args.ckpt_path)
    cli_args = [arg for config in args.config for arg in ("--config", config_without_fit_keys(config))]
    cli = build_cli([*cli_args, *overrides, "--trainer.logger", "false"], run=False)
    model, data = cli.model, cli.datamodule
    if not isinstance(data, StochasticD4RLDataModule):
        raise TypeError(f"ramac calibrate needs a locomotion task config, got data {type(data).__name__}")
    critic = getattr(model, "critic", None)
    if not isinstance(critic, TwinIQNCritic | TwinQuantileCritic):
        raise TypeError(f"ramac calibrate needs a learner with a distributional critic (RADAC, RAFMAC, ORAAC, "
                        f"CODAC); {type(model).__name__} has {type(critic).__name__}")
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    t = data.transitions
    rng = np.random.default_rng(args.seed)
    risky = data.hazard.is_risky_step(t.next_observations, t.actions) if data.hazard is not None \
        else np.zeros(len(t.rewards), bool)
    ordinary = ~risky & (t.terminals == 0)
    strata = {}
    for name, mask in (("risky", risky), ("ordinary", ordinary)):
        rows = np.flatnonzero(mask)
        wanted = args.pairs // 2 if name == "risky" else args.pairs - len(strata.get("risky", []))
        strata[name] = np.sort(rng.choice(rows, size=min(wanted, len(rows)), replace=False))
    chosen = np.concatenate([strata["risky"], strata["ordinary"]])
    observations, actions = t.observations[chosen].astype(np.float64), t.actions[chosen].astype(np.float64)

    grid = level_grid()
    with torch.no_grad():
        obs = model.obs_normalizer(torch.as_tensor(observations, dtype=torch.float32))
        act = torch.as_tensor(actions, dtype=torch.float32)
        def quantiles(levels: np.ndarray) -> np.ndarray:
            taus = torch.as_tensor(levels, dtype=torch.float32).expand(len(chosen), -1).contiguous()
            return critic(obs, act, taus).float().amin(0).numpy().astype(np.float64)  # [P, L]
        grid_quantiles, level_quantiles = quantiles(grid), quantiles(np.asarray(COVERAGE_LEVELS))

    discount = float(model.hparams.discount)
    horizon = args.horizon or discounted_horizon(discount)
    generator = torch.Generator().manual_seed(args.seed)

    def policy(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model.act(torch.as_tensor(batch, dtype=torch.float32), generator).float().numpy()

    returns = monte_carlo_returns(data.env_id, data.hazard, observations, actions, policy, args.copies, horizon,
                                  discount, seed=args.seed + 1, reward_scale=float(data.reward_scale))
    parts = {"risky": slice(0, len(strata["risky"])), "ordinary": slice(len(strata["risky"]), len(chosen)),
             "all": slice(0, len(chosen))}
    figures = {name: summary(grid_quantiles[part], level_quantiles[part], returns[part], grid)
               for name, part in parts.items() if part.stop > part.start}

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"critic calibration: {data.env_id}, {len(chosen)} pairs × {args.copies} rollouts, "
                        f"horizon {horizon}, γ {discount}")
    table.add_column("figure")
    for name in figures:
        table.add_column(name, justify="right")
    for key in figures["all"]:
        table.add_row(key, *(f"{figures[name][key]:,.4g}" for name in figures))
    Console().print(table)
    out = Path(args.out) if args.out else Path(args.ckpt_path).with_suffix(".calibration.json")
    meta = {"checkpoint": str(Path(args.ckpt_path).resolve()), "iteration": checkpoint["ramac"].get("iteration"),
            "env_id": data.env_id, "pairs": len(chosen), "copies": args.copies, "horizon": horizon,
            "discount": discount, "seed": args.seed, "reward_scale": float(data.reward_scale),
            "hazard": None if data.hazard is None else vars(data.hazard), "rows": chosen.tolist(),
            "risky_pairs": len(strata["risky"])}
    out.write_text(json.dumps({"meta": meta, "figures": figures, "coverage_levels": list(COVERAGE_LEVELS),
                               "quantiles_at_levels": np.round(level_quantiles, 4).tolist(),
                               "returns": np.round(returns, 4).tolist()}, indent=1))
    _plot(out.with_suffix(".png"), figures, str(Path(args.ckpt_path)))
    print(out)


def _plot(path: Path, figures: dict[str, dict[str, float]], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ramac.evaluation.calibration import COVERAGE_LEVELS

    fig, ax = plt.subplots(figsize=(4.6, 4.2), constrained_layout=True)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", label="calibrated")
    for name, values in figures.items():
        ax.plot(COVERAGE_LEVELS, [values[f"coverage_{tau:g}"] for tau in COVERAGE_LEVELS], marker="o", label=name)
    ax.set(xlabel="predicted quantile level τ", ylabel="share of Monte-Carlo returns ≤ the τ-quantile",
           xlim=(0, 1), ylim=(0, 1), title=f"coverage\n{title[-60:]}")
    ax.legend()
    fig.savefig(path, dpi=100)
    plt.close(fig)
