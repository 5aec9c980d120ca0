"""The released RAMAC code's own RADAC training loop on ramac's data, evaluated by ramac's evaluator (issue 28, item 1).

    python bench/released_end_to_end.py train --official-repo /path/to/RAMAC --seed 0   # one seed; resumes when rerun
    python bench/released_end_to_end.py figure                                          # curves beside ramac's runs

``train`` builds the released ``agents.radac.RADAC`` (imported from the checkout; it needs only torch) with the
released hopper-medium-expert row of ``configs/radac.yaml`` and ``main.py``'s globals (T = 5 vp, batch 256, γ 0.99,
grad clip 5, EMA 0.995 every 5 from step 1000, N = 16 quantiles, embedding 64, targets clipped to ±300, η = 0.05 on
the raw CVaR₀.₁, no ramp), except the schedule of ramac's committed ``quantile_pairing: released`` runs
(``conf/sweeps/hopper-study-radac.yaml``): risk term from iteration 10k (``eta_warmup_steps``; released 300k), critic
lr 3e-4 (released 1e-5), target rate 0.05 (released 0.005), 30k iterations. It seeds as ``main.py`` does
(``torch.manual_seed``, ``np.random.seed``), feeds the released ``OfflineReplayDataset`` the arrays ramac trains on (the
zoo's hopper-medium-expert with its hazard labels; ``--zoo-generation``), and calls the released ``agent.train`` for
``--eval-every`` iterations at a time, as ``main.py``'s loop does (and to each of ``--eval-at``, e.g. densely after the
switch). At each of those points the released policy
(``agent.actor.sample``, the online actor, as the released ``sample_action``) is evaluated by
``ramac.evaluation.evaluate_learner`` with the settings of ramac's study runs (50 episodes, hazard-wrapped Hopper-v5,
horizon 500, episode seeds 1 000 000 + i, OOD detector k = 10, κ = 3 on 5000 sampled actions); the evaluation draws
from a forked RNG seeded with 1 000 000, so it never moves the training stream. The history goes to
``<out>/eval.json`` in the format of ramac's runs, the released loop's own loss means per chunk to
``<out>/train.csv``, and everything needed to resume (weights, optimisers, step, RNG) to ``<out>/state.ckpt``
(git-ignored), written whole then renamed after every chunk. A seed being trained holds ``<out>/running.lock``, so
two commands (``for s in 0 1 2`` on each core) never train one seed twice: the second skips it.

``figure`` plots return mean and CVaR₀.₁ per evaluation point (mean over seeds ± standard error) of these runs beside
ramac's committed RADAC runs with the released and the standard pairing.
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import glob
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
OURS = os.path.join(ROOT, "results", "sweeps", "hopper-study-radac", "hopper-medium-expert", "radac")


class ReleasedPolicy:
    """The released agent seen through ramac's ``Agent`` protocol (``ramac.types``): ``act`` is the released
    ``sample_action`` on a batch (``agent.actor.sample``; it draws from torch's global RNG, so ``generator`` is
    unused and the caller seeds a forked RNG); observations reach it unnormalised, as in the released code."""

    def __init__(self, agent: Any) -> None:
        self.agent, self.device, self.training = agent, torch.device("cpu"), True

    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:  # [V, O] -> [V, A]
        return self.agent.actor.sample(obs.float())

    def obs_normalizer(self, obs: Tensor) -> Tensor:
        return obs

    def train(self, mode: bool = True) -> ReleasedPolicy:
        self.training = mode
        self.agent.actor.train(mode)
        return self

    def eval(self) -> ReleasedPolicy:
        return self.train(False)


MODULES = ("actor", "ema_model", "critic1", "critic2", "critic1_target", "critic2_target",
           "actor_optimizer", "critic1_optimizer", "critic2_optimizer")


def _save(path: str, agent: Any, history: list[dict[str, Any]]) -> None:
    state = {name: getattr(agent, name).state_dict() for name in MODULES}
    state.update(step=agent.step, torch_rng=torch.get_rng_state(), numpy_rng=np.random.get_state(), history=history)
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def _load(path: str, agent: Any) -> list[dict[str, Any]]:
    state = torch.load(path, weights_only=False)
    for name in MODULES:
        getattr(agent, name).load_state_dict(state[name])
    agent.step = state["step"]
    torch.set_rng_state(state["torch_rng"])
    np.random.set_state(state["numpy_rng"])
    return state["history"]


def _write_json(path: str, value: Any) -> None:
    with open(path + ".tmp", "w") as handle:
        json.dump(value, handle, indent=2)
    os.replace(path + ".tmp", path)


def train(args: argparse.Namespace) -> None:
    out = args.out or os.path.join(ROOT, "results", "released", args.task, f"seed{args.seed}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "running.lock"), "w") as lock:  # released when this process ends, even by SIGKILL
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{out}: trained by another process now; skipped", flush=True)
            return
        _train(args, out)


def _train(args: argparse.Namespace, out: str) -> None:
    torch.set_num_threads(args.threads)
    sys.path.insert(0, os.path.abspath(args.official_repo))
    from agents.radac import RADAC as ReleasedRADAC  # the released code, imported from the checkout
    from utils.offline_dataset import OfflineReplayDataset

    from ramac.cli.fit import build_cli
    from ramac.evaluation.evaluate import evaluate_learner
    from ramac.evaluation.ood import NearestNeighbourOOD
    from ramac.evaluation.rollout import EnvPool
    from ramac.tasks import env_facts

    cli = build_cli(["--algo", "radac", "--task", args.task, "--trainer.logger", "false",
                     "--data.init_args.zoo_generation", str(args.zoo_generation)], run=False)
    data = cli.datamodule
    t = data.transitions
    arrays = {"observations": t.observations, "actions": t.actions, "next_observations": t.next_observations,
              "rewards": t.rewards, "terminals": t.terminals}
    commit = subprocess.run(["git", "-C", args.official_repo, "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "not a git checkout"
    config = {"released_code": {"path": os.path.abspath(args.official_repo), "commit": commit},
              "data": data.describe(), "seed": args.seed, "iterations": args.iterations,
              "risk_from": args.risk_from, "critic_lr": args.critic_lr, "target_rate": args.target_rate,
              "eval_every": args.eval_every, "eval_at": args.eval_at, "episodes": args.episodes,
              "threads": args.threads}
    _write_json(os.path.join(out, "config.json"), config)

    torch.manual_seed(args.seed)  # main.py's seeding, before the agent is built
    np.random.seed(args.seed)
    buffer = OfflineReplayDataset(arrays, device="cpu")
    obs_dim, action_dim = t.obs_dim, t.action_dim
    agent = ReleasedRADAC(obs_dim, action_dim, float(data.max_action), "cpu", discount=0.99, tau=args.target_rate,
                          n_quantiles=16, embedding_dim=64, beta_schedule="vp", n_timesteps=5, lr_actor=3e-4,
                          lr_critic=args.critic_lr, grad_norm=5.0, eta=0.05, step_start_ema=1000,
                          update_ema_every=5, q_clip_range=(-300.0, 300.0), lambda_bc=1.0,
                          eta_warmup_steps=args.risk_from, eta_ramp_steps=0)
    state_path = os.path.join(out, "state.ckpt")
    history = _load(state_path, agent) if os.path.exists(state_path) else []
    if history:
        print(f"resuming {out} at iteration {agent.step}", flush=True)

    horizon = env_facts(data.env).eval_horizon
    detector = NearestNeighbourOOD(torch.from_numpy(t.observations), torch.from_numpy(t.actions), 10, 3.0)
    policy = ReleasedPolicy(agent)
    seeds = [args.eval_seed + i for i in range(args.episodes)]
    train_csv = os.path.join(out, "train.csv")
    with EnvPool(data.env_id, data.hazard, horizon) as pool:
        while agent.step < args.iterations:
            upcoming = [i for i in args.eval_at if i > agent.step]
            next_point = min([(agent.step // args.eval_every + 1) * args.eval_every, args.iterations, *upcoming])
            chunk = next_point - agent.step
            start = time.perf_counter()
            metric = agent.train(buffer, iterations=chunk, batch_size=256)
            seconds = time.perf_counter() - start
            with torch.random.fork_rng():
                torch.manual_seed(args.eval_seed)
                figures = evaluate_learner(policy, data.env, pool, seeds, detector, policy_seed=args.eval_seed,
                                           ood_max_actions=5000)
            history.append({**figures, "iteration": float(agent.step)})
            tail = {key: float(np.mean(values[-args.tail:])) for key, values in metric.items()}
            row = {"iteration": agent.step, "seconds": round(seconds, 1), "ms_per_iteration": 1000 * seconds / chunk,
                   **{f"{key}_last{args.tail}": value for key, value in tail.items()}}
            first = not os.path.exists(train_csv)
            with open(train_csv, "a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(row))
                if first:
                    writer.writeheader()
                writer.writerow(row)
            _write_json(os.path.join(out, "eval.json"), {
                "meta": {"env_id": data.env_id, "horizon": horizon, "episodes": args.episodes,
                         "normalized_score": f"D4RL reference returns, {data.env_id}, horizon {horizon}",
                         "produced_by": "bench/released_end_to_end.py (the released agents/radac.py loop)"},
                "history": history})
            _save(state_path, agent, history)
            print(f"iteration {agent.step}: return {figures['return_mean']:.1f} CVaR0.1 "
                  f"{figures['return_cvar_0.1']:.1f} OOD {figures['ood_action_rate']:.3f} | "
                  f"{row['ms_per_iteration']:.0f} ms/it | critic mean"
                  f" {tail['Q_mean']:.1f} CVaR at policy {tail['cvar_val']:.1f}", flush=True)


def _curves(pattern: str) -> dict[float, list[dict[str, float]]]:
    by_iteration: dict[float, list[dict[str, float]]] = {}
    for path in sorted(glob.glob(pattern)):
        with open(path) as handle:
            for entry in json.load(handle)["history"]:
                by_iteration.setdefault(entry["iteration"], []).append(entry)
    return by_iteration


def figure(args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sources = {"released code (its agents/radac.py loop), zoo generation 2":
               os.path.join(ROOT, "results", "released", args.task, "seed*", "eval.json"),
               "ramac, quantile_pairing released, generation 1": os.path.join(OURS, "quantile_pairing=released",
                                                                               "seed*", "eval.json"),
               "ramac, standard pairing, generation 1": os.path.join(OURS, "quantile_pairing=standard", "seed*",
                                                                      "eval.json")}
    keys = {"return_mean": "return mean", "return_cvar_0.1": "CVaR₀.₁ (50 episodes)", "ood_action_rate": "OOD rate"}
    fig, axes = plt.subplots(1, len(keys), figsize=(4.6 * len(keys), 3.6), constrained_layout=True)
    for label, pattern in sources.items():
        curves = _curves(pattern)
        if not curves:
            continue
        iterations = sorted(curves)
        counts = sorted({len(v) for v in curves.values()})
        seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"  # a seed still training
        for ax, key in zip(axes, keys, strict=True):
            values = [np.array([e[key] for e in curves[i]]) for i in iterations]
            mean = np.array([v.mean() for v in values])
            se = np.array([v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else 0.0 for v in values])
            ax.plot(iterations, mean, marker="o", label=f"{label} ({seeds} seeds)")
            ax.fill_between(iterations, mean - se, mean + se, alpha=0.2)
    for ax, title in zip(axes, keys.values(), strict=True):
        ax.axvline(10_000, color="grey", linestyle=":", linewidth=1)
        ax.set(title=title, xlabel="iteration")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{args.task}: risk term (η 0.05, raw CVaR₀.₁) from 10k; mean ± s.e. over seeds")
    path = os.path.join(ROOT, "results", "released", args.task, "curves.png")
    fig.savefig(path, dpi=110)
    print(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("train", help="train and evaluate one seed of the released loop (resumes)")
    run.add_argument("--official-repo", required=True, help="checkout of KaiFukazawa/RAMAC")
    run.add_argument("--task", default="hopper-medium-expert")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--zoo-generation", type=int, default=2)
    run.add_argument("--iterations", type=int, default=30_000)
    run.add_argument("--risk-from", type=int, default=10_000)
    run.add_argument("--critic-lr", type=float, default=3e-4)
    run.add_argument("--target-rate", type=float, default=0.05)
    run.add_argument("--eval-every", type=int, default=5000)
    run.add_argument("--eval-at", type=int, nargs="*", default=[], help="further iterations to evaluate at")
    run.add_argument("--episodes", type=int, default=50)
    run.add_argument("--eval-seed", type=int, default=1_000_000, help="ramac's RolloutEvaluation seed")
    run.add_argument("--tail", type=int, default=100, help="iterations averaged per chunk in train.csv")
    run.add_argument("--threads", type=int, default=1)
    run.add_argument("--out", default=None, help="default: results/released/<task>/seed<seed>")
    plot = sub.add_parser("figure", help="curves of the released loop beside ramac's runs")
    plot.add_argument("--task", default="hopper-medium-expert")
    args = parser.parse_args()
    if args.command == "train":
        for name in ("iterations", "eval_every", "episodes", "threads", "tail"):
            if getattr(args, name) < 1:
                parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
        if not os.path.isfile(os.path.join(args.official_repo, "agents", "radac.py")):
            parser.error(f"--official-repo {args.official_repo}: no agents/radac.py (a KaiFukazawa/RAMAC checkout)")
        train(args)
    else:
        figure(args)


if __name__ == "__main__":
    main()
