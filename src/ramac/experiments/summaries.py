"""Statistics over seeds of the runs' final evaluations, in long-format rows (one per task, column and metric).

Seeds are the unit of uncertainty (Agarwal et al. 2021; research note ``experiments.md`` §3): for a group (task,
algorithm, grid values) with seed values ``x_1..x_n``:

- ``mean``, ``se = sd / √n`` (``sd`` with ``n − 1``), the t interval ``mean ± t_{0.975, n−1} · se`` and a
  bootstrap interval (``scipy.stats.bootstrap``, percentile, resampling seeds; 10 000 resamples, seeded);
- CVaR₀.₁ **per seed, then the mean** (the paper's pipeline: each seed's worst 10 % of episodes, averaged over
  seeds), and **pooled** (the worst 10 % of all episodes of all seeds together), both labelled;
- with 10 episodes per seed, a seed's CVaR₀.₁ is its single worst episode.

Bandit runs report the mean and CVaR₀.₁ of the rewards of the learner's sampled actions and the shares of samples
in the centre, on the ring and between (the leakage), the last standing in for the OOD rate.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from ramac.experiments.runs import ReportError, Run, lower_tail_mean

PAPER_EPISODES = 10  # evaluation episodes per seed in the paper's tables (research/paper-notes.md §2)
SHARES = ("safe", "ring", "between")  # bandit: where the sampled actions fall


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float
    se: float
    t_low: float
    t_high: float
    boot_low: float
    boot_high: float


def summarise(values: list[float], seed: int = 0) -> Summary:
    """Mean, standard error, t interval and bootstrap interval (95 %) of per-seed values."""
    from scipy import stats

    x = np.asarray(values, dtype=np.float64)
    n, mean = len(x), float(x.mean())
    if n < 2:
        return Summary(n, mean, math.nan, math.nan, math.nan, math.nan, math.nan)
    se = float(x.std(ddof=1) / math.sqrt(n))
    half = float(stats.t.ppf(0.975, n - 1)) * se
    if np.ptp(x) == 0:
        low = high = mean
    else:
        boot = stats.bootstrap((x,), np.mean, confidence_level=0.95, n_resamples=10_000, method="percentile",
                               random_state=np.random.default_rng(seed))
        low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    return Summary(n, mean, se, mean - half, mean + half, low, high)


def groups(runs: list[Run]) -> dict[tuple[str, str], list[Run]]:
    """Runs by (task, column), the column being the algorithm with its grid values. The runs of one task must have
    trained on the same data (their recorded checksums agree): a zoo dataset remade on another machine can differ
    (BENCHMARKS.md, "A study attempt on the lent GPU machine"), and a table would then compare different data."""
    by_data: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        if run.data_sha256 is not None:
            by_data[run.task][run.data_sha256].append(run.folder)
    for task, checksums in by_data.items():
        if len(checksums) > 1:
            counted = sorted(checksums.items(), key=lambda item: len(item[1]))
            listing = ", ".join(f"{sha[:12]} in {len(folders)} runs" for sha, folders in counted)
            raise ReportError(f"{task}: the runs trained on different data (data.sha256 of their hparams.yaml: "
                              f"{listing}; e.g. {counted[0][1][0]}); report each dataset's runs apart")
    out: dict[tuple[str, str], list[Run]] = defaultdict(list)
    for run in runs:
        out[(run.task, f"{run.algo}[{run.variant}]" if run.variant else run.algo)].append(run)
    for members in out.values():
        members.sort(key=lambda r: r.seed)
        seeds = [r.seed for r in members]
        if len(set(seeds)) != len(seeds):
            raise ReportError(f"{members[0].task}/{members[0].algo}: seed given twice ({seeds}); report one sweep's "
                              "runs at a time")
    return dict(out)


METRICS = (("mean", "return mean"), ("cvar_per_seed", "CVaR₀.₁ (per seed, then mean)"),
           ("cvar_pooled", "CVaR₀.₁ (pooled episodes)"),
           ("cvar_first10", "CVaR₀.₁ of the first 10 episodes (the paper's protocol: the worst one)"))
OOD_METRICS = (("ood", "OOD action rate (bandit: share between the modes)"),)
REPORTED_KAPPAS = (1.0, 3.0, 5.0, 10.0)  # the κ table: how the OOD ranking moves with the detector's threshold
OOD_KAPPA_METRICS = tuple((f"ood_kappa_{kappa:g}", f"OOD action rate at κ = {kappa:g}") for kappa in REPORTED_KAPPAS)
SCORE_METRICS = (("normalized", "D4RL-normalised score"),)
HAZARD_METRICS = (("penalties", "penalties per episode"),
                  ("risky", "risky-step rate (steps whose state, or action for the energy hazard, is risky)"))
BANDIT_METRICS = (("share_safe", "share in the safe centre"), ("share_ring", "share on the risky ring"),
                  ("share_between", "share between the modes"), ("mean", "reward mean"),
                  ("cvar_per_seed", "reward CVaR₀.₁ (per seed, then mean)"))


def table_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """Long-format rows: one per (task, column, metric) with the numbers of :class:`Summary`."""
    rows = []
    for (task, column), members in sorted(groups(runs).items()):
        per_metric = {"mean": [r.mean for r in members], "cvar_per_seed": [r.cvar for r in members],
                      # the paper's protocol: 10 episodes per seed (env seeds 0-9), CVaR₀.₁ = their worst
                      "cvar_first10": [lower_tail_mean(r.returns[:PAPER_EPISODES]) for r in members
                                       if r.env_id is not None and r.episodes > PAPER_EPISODES],
                      **{f"share_{k}": [r.shares[k] for r in members if r.shares] for k in SHARES},
                      "ood": [r.ood for r in members if r.ood is not None],
                      "normalized": [r.normalized for r in members if r.normalized is not None],
                      "penalties": [r.penalties for r in members if r.penalties is not None],
                      "risky": [r.risky for r in members if r.risky is not None],
                      **{f"ood_kappa_{kappa:g}": [r.ood_by_kappa[kappa] for r in members if kappa in r.ood_by_kappa]
                         for kappa in REPORTED_KAPPAS}}
        pooled = lower_tail_mean([x for r in members for x in r.returns])
        for metric, values in per_metric.items():
            if not values:
                continue
            summary = summarise(values)
            episodes = PAPER_EPISODES if metric == "cvar_first10" else members[0].episodes
            rows.append({"task": task, "column": column, "metric": metric, "seeds": summary.n,
                         "episodes_per_seed": episodes, "iteration": members[0].iteration,
                         **vars(summary)})
        rows.append({"task": task, "column": column, "metric": "cvar_pooled", "seeds": len(members),
                     "episodes_per_seed": members[0].episodes, "iteration": members[0].iteration, "n": len(members),
                     "mean": pooled, "se": math.nan, "t_low": math.nan, "t_high": math.nan, "boot_low": math.nan,
                     "boot_high": math.nan})
    return rows


SELECTION_METRICS = (("iteration", "iteration chosen"), ("reported_mean", "reported return mean"),
                     ("reevaluated_mean", "re-evaluated return mean"), ("gap_mean", "gap (reported − re-evaluated)"),
                     ("reported_cvar", "reported CVaR₀.₁"), ("reevaluated_cvar", "re-evaluated CVaR₀.₁"),
                     ("gap_cvar", "CVaR₀.₁ gap"))


def selection_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """The checkpoint-selection table (:mod:`ramac.experiments.selection`): per (task, column) and rule, over the
    seeds whose ``selection.json`` has the rule, the chosen iteration, the figure the rule reports (from the
    evaluation that chose it), the re-evaluated figure on fresh episodes and the gap ``reported − re-evaluated``."""
    from ramac.experiments.selection import RULES, read_selection

    rows = []
    for (task, column), members in sorted(groups(runs).items()):
        chosen = [(run, read_selection(run.folder)) for run in members]
        chosen = [(run, rules) for run, rules in chosen if rules]
        for rule in RULES:
            picks = [rules[rule] for _, rules in chosen if rule in rules]
            if not picks:
                continue
            values = {"iteration": [p["iteration"] for p in picks],
                      "reported_mean": [p["reported_mean"] for p in picks],
                      "reevaluated_mean": [p["reevaluated_mean"] for p in picks],
                      "gap_mean": [p["reported_mean"] - p["reevaluated_mean"] for p in picks],
                      "reported_cvar": [p["reported_cvar"] for p in picks],
                      "reevaluated_cvar": [p["reevaluated_cvar"] for p in picks],
                      "gap_cvar": [p["reported_cvar"] - p["reevaluated_cvar"] for p in picks]}
            for metric, series in values.items():
                rows.append({"task": task, "column": f"{column} · {rule}", "metric": metric, "seeds": len(picks),
                             **vars(summarise(series))})
    return rows


PAIRED_METRICS = (("mean", "difference in return mean (bandit: reward mean)"),
                  ("cvar_per_seed", "difference in CVaR₀.₁ (per seed)"),
                  ("ood", "difference in OOD rate (bandit: share between the modes)"))


def paired_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """Seed-paired differences between the columns of one algorithm: for columns ``A`` and ``B`` (in name order)
    of the same task and algorithm and their common seeds ``s``, ``d_s = x_s^A − x_s^B``, summarised as
    :func:`summarise` does (mean ± se, t and bootstrap intervals over seeds). Within an algorithm a seed fixes the
    initialisation and the batch order, so the two runs of a seed share everything up to where their settings act
    (RADAC's two pairings evaluate identically until the risk term starts: README "The study"); the paired
    difference removes that shared part of the seed-to-seed spread. Pairs with fewer than two common seeds are
    left out. One row per (task, pair, metric of :data:`PAIRED_METRICS` that both columns have)."""
    by_algo: dict[tuple[str, str], dict[str, dict[int, Run]]] = defaultdict(dict)
    for (task, column), members in groups(runs).items():
        by_algo[(task, members[0].algo)][column] = {r.seed: r for r in members}
    rows = []
    for (task, _), columns in sorted(by_algo.items()):
        names = sorted(columns)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                seeds = sorted(set(columns[a]) & set(columns[b]))
                if len(seeds) < 2:
                    continue
                label = f"{a} − {b} (seeds {', '.join(map(str, seeds))})"
                for metric, _ in PAIRED_METRICS:
                    key = {"cvar_per_seed": "cvar"}.get(metric, metric)
                    pairs = [(getattr(columns[a][s], key), getattr(columns[b][s], key)) for s in seeds]
                    if any(x is None or y is None for x, y in pairs):
                        continue
                    summary = summarise([x - y for x, y in pairs])
                    rows.append({"task": task, "column": label, "metric": metric, "seeds": summary.n,
                                 "iteration": columns[a][seeds[0]].iteration, **vars(summary)})
    return rows


def bandit_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of :data:`BANDIT_METRICS` for the tasks whose runs have sample shares (the bandit)."""
    tasks = {r["task"] for r in rows if r["metric"].startswith("share_")}
    return [r for r in rows if r["task"] in tasks and r["metric"] in dict(BANDIT_METRICS)]


def online_metrics(cvar_targets: tuple[float, ...] = ()) -> tuple[tuple[str, str], ...]:
    """The online table's metrics, with two per CVaR₀.₁ target (the penalties paid to reach it, and how many seeds
    did)."""
    metrics = [("env_steps", "environment steps"), ("penalties", "penalties paid"),
               ("risky_steps", "risky steps (a hazard state; the ring on the bandit)"),
               ("terminations", "terminations (falls; every step on the bandit)"),
               ("start_cvar", "CVaR₀.₁ at the start"),
               ("dip_cvar", "lowest CVaR₀.₁ during the phase − the start's (the dip)"),
               ("final_cvar", "CVaR₀.₁ at the end"),
               ("penalties_to_start", "penalties paid until CVaR₀.₁ ≥ the start's (seeds that got there)"),
               ("reached_start", "seeds whose CVaR₀.₁ got back to the start's")]
    for target in cvar_targets:
        metrics += [(f"penalties_to_{target:g}", f"penalties paid until CVaR₀.₁ ≥ {target:g} (seeds that got there)"),
                    (f"reached_{target:g}", f"seeds reaching CVaR₀.₁ ≥ {target:g}")]
    return tuple(metrics)


def online_rows(runs: list[Run], cvar_targets: tuple[float, ...] = ()) -> list[dict[str, Any]]:
    """The risk paid to learn online, per column of runs with an online phase (:class:`~ramac.experiments.runs.
    OnlineRecord`), summarised over seeds as :func:`summarise` does. Per seed: its environment steps, penalties,
    risky steps and terminations; the CVaR₀.₁ of its evaluation at the phase's start (the offline checkpoint's last
    evaluation, where the run resumed from one), the lowest one after it minus it (the dip, ≤ 0 when there is one) and
    the last one; and, for the start's CVaR₀.₁ and each of ``cvar_targets``, the penalties paid before the first
    evaluation after the start that reached it (over the seeds that did) and the count of those seeds."""
    rows = []
    for (task, column), members in sorted(groups([r for r in runs if r.online is not None]).items()):
        values: dict[str, list[float]] = defaultdict(list)
        for run in members:
            online = run.online
            assert online is not None
            values["env_steps"].append(online.env_steps(run.iteration))
            values["penalties"].append(float(online.step_penalties.sum()))
            values["risky_steps"].append(float(online.step_risky.sum()))
            values["terminations"].append(float(online.step_terminations.sum()))
            values["final_cvar"].append(run.cvar)
            after = [(int(e["iteration"]), evaluation_cvar(e)) for e in run.history
                     if int(e["iteration"]) > online.start_iteration]
            start = [evaluation_cvar(e) for e in run.history if int(e["iteration"]) == online.start_iteration]
            levels = [(f"{target:g}", target) for target in cvar_targets]
            if start:
                values["start_cvar"].append(start[0])
                if after:
                    values["dip_cvar"].append(min(c for _, c in after) - start[0])
                levels.append(("start", start[0]))
            for name, level in levels:
                reached = [it for it, cvar in after if cvar >= level]
                values[f"reached_{name}"].append(float(bool(reached)))
                if reached:
                    values[f"penalties_to_{name}"].append(float(online.penalties_before(reached[0])))
        for metric, series in values.items():
            summary = summarise(series) if not metric.startswith("reached_") else None
            if summary is None:  # a count over the seeds, not a mean
                total = float(sum(series))
                summary = Summary(len(series), total, math.nan, math.nan, math.nan, math.nan, math.nan)
            rows.append({"task": task, "column": column, "metric": metric, "seeds": summary.n, **vars(summary)})
    return rows


def evaluation_cvar(entry: dict[str, Any]) -> float:
    """CVaR₀.₁ of one evaluation: of its episodes' returns where kept, else the value it logged (``nan`` if none)."""
    returns = entry.get("returns")
    return lower_tail_mean(returns) if returns else float(entry.get("return_cvar_0.1", math.nan))


def seed_rows(runs: list[Run]) -> list[dict[str, Any]]:
    """Long-format learning curves: one row per (locomotion run, evaluation) with the evaluation's return mean,
    CVaR₀.₁ (over its episodes; over the first 10 too), OOD rate and mean episode length (``nan`` where the
    evaluation did not record it)."""
    rows = []
    for (task, column), members in sorted(groups([r for r in runs if r.env_id is not None]).items()):
        for run in members:
            for entry in run.history:
                returns = entry.get("returns") or []
                rows.append({"task": task, "column": column, "seed": run.seed, "iteration": int(entry["iteration"]),
                             "return_mean": float(entry["return_mean"]),
                             "cvar": evaluation_cvar(entry),
                             "cvar_first10": lower_tail_mean(returns[:PAPER_EPISODES]) if returns else math.nan,
                             **{key: float(entry.get(key, math.nan))
                                for key in ("ood_action_rate", "episode_length")}})
    return rows
