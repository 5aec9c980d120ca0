"""Gathering finished runs into the paper's tables, with their uncertainty over seeds.

What a number is: every run contributes its **final evaluation of ``last.ckpt``** (the last entry of ``eval.json``,
written at the end of training; on the bandit ``bandit.json``'s sampled actions). Seeds are the unit of
uncertainty (Agarwal et al. 2021; research note ``experiments.md`` §3): for a group (task, algorithm, grid values)
with seed values ``x_1..x_n``:

- ``mean``, ``se = sd / √n`` (``sd`` with ``n − 1``), the t interval ``mean ± t_{0.975, n−1} · se`` and a
  bootstrap interval (``scipy.stats.bootstrap``, percentile, resampling seeds; 10 000 resamples, seeded);
- CVaR₀.₁ **per seed, then the mean** (the paper's pipeline: each seed's worst 10 % of episodes, averaged over
  seeds), and **pooled** (the worst 10 % of all episodes of all seeds together), both labelled;
- with 10 episodes per seed, a seed's CVaR₀.₁ is its single worst episode.

Bandit runs report the mean and CVaR₀.₁ of the rewards of the learner's sampled actions and the shares of samples
in the centre, on the ring and between (the leakage), the last standing in for the OOD rate.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

CVAR_ALPHA = 0.1
PAPER_EPISODES = 10  # evaluation episodes per seed in the paper's tables (research/paper-notes.md §2)
SHARES = ("safe", "ring", "between")  # bandit: where the sampled actions fall
# training metrics kept for the diagnostics figure: the critic's risk estimate at the policy's and the data's actions
# and its mean estimate at the data's actions (against the data's return-to-go: bench/critic_reference.py)
TRACED = ("train/actor/risk", "train/critic/risk_at_data", "train/critic/z_mean")
RESULT_FILES = ("eval.json", "bandit.json")


class ReportError(ValueError):
    """A run folder that cannot be read; the message names the folder or file."""


@dataclass
class Run:
    folder: str
    task: str
    algo: str
    seed: int
    variant: str  # the grid values, "" without a grid
    overrides: dict[str, Any]
    iteration: int
    episodes: int
    mean: float
    cvar: float
    returns: list[float]
    ood: float | None
    normalized: float | None = None
    env_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    shares: dict[str, float] = field(default_factory=dict)  # bandit: centre / ring / between
    offsets: list[list[float]] | None = None  # bandit: sampled actions minus their context's centre
    risk_weight: float | None = None  # the resolved config's model.init_args.risk_weight, where it has one
    trace: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # TRACED training metrics by iteration
    data_sha256: str | None = None  # the training data's checksum (DataModule.describe), from the run's hparams.yaml


def lower_tail_mean(values: list[float] | np.ndarray, alpha: float = CVAR_ALPHA) -> float:
    """CVaR_α of a sample: the mean of its ``max(1, ⌈α n⌉)`` smallest values (ramac's evaluation metric)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(ordered[:max(1, math.ceil(alpha * len(ordered)))].mean())


def _identity(folder: str) -> dict[str, Any]:
    """Task, algorithm, seed and grid values: ``cell.json`` of a sweep cell, else the run's saved config."""
    cell = os.path.join(folder, "cell.json")
    if os.path.isfile(cell):
        with open(cell) as handle:
            return json.load(handle)
    configs = sorted(glob.glob(os.path.join(folder, "config.yaml"))
                     + glob.glob(os.path.join(folder, "lightning_logs", "version_*", "config.yaml")))
    if not configs:
        raise ReportError(f"{folder}: no cell.json or config.yaml to tell the task, algorithm and seed")
    with open(configs[-1]) as handle:
        config = yaml.safe_load(handle)
    data = (config.get("data") or {}).get("init_args") or {}
    class_path = (config.get("data") or {}).get("class_path", "")
    task = "bandit" if class_path.endswith("BanditDataModule") else f"{data.get('env')}-{data.get('dataset')}"
    model = config.get("model") or {}
    algo = model.get("class_path", "?").rsplit(".", 1)[-1].lower()
    return {"task": task, "algo": algo, "seed": int(config.get("seed_everything", 0)), "overrides": {}}


def _risk_weight(folder: str) -> float | None:
    """The risk weight of the run's resolved ``config.yaml`` (sweep cells keep one), for the frontier."""
    path = os.path.join(folder, "config.yaml")
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    value = ((config.get("model") or {}).get("init_args") or {}).get("risk_weight")
    return None if value is None else float(value)


def _data_sha256(folder: str) -> str | None:
    """The checksum of the data the run trained on, as its Lightning logs recorded it (``data.sha256`` of each
    version's ``hparams.yaml``); ``None`` for a folder without logs. A resumed run whose versions disagree is an
    error: the checkpoint was continued on other data."""
    found = set()
    for path in glob.glob(os.path.join(folder, "lightning_logs", "version_*", "hparams.yaml")):
        with open(path) as handle:
            found.add(((yaml.safe_load(handle) or {}).get("data") or {}).get("sha256"))
    found.discard(None)
    if len(found) > 1:
        raise ReportError(f"{folder}: its Lightning versions trained on different data (sha256 {sorted(found)})")
    return found.pop() if found else None


def _trace(folder: str, keys: tuple[str, ...] = TRACED) -> dict[str, list[tuple[int, float]]]:
    """``keys`` (default :data:`TRACED`) from the run's ``metrics.csv`` files (one per Lightning version; a resumed
    run's later version replaces the earlier one's rows from its first step on)."""
    def version(path: str) -> int:
        return int(os.path.basename(os.path.dirname(path)).rsplit("_", 1)[-1])

    out: dict[str, dict[int, float]] = {key: {} for key in keys}
    for path in sorted(glob.glob(os.path.join(folder, "lightning_logs", "version_*", "metrics.csv")), key=version):
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("step")]
        if not rows:
            continue
        first = min(int(r["step"]) for r in rows)
        for key in keys:
            out[key] = {s: v for s, v in out[key].items() if s < first}
            out[key].update({int(r["step"]): float(r[key]) for r in rows if r.get(key)})
    return {key: sorted(values.items()) for key, values in out.items() if values}


def read_run(folder: str) -> Run:
    """One finished run (its result file and identity)."""
    identity = _identity(folder)
    overrides = identity.get("overrides") or {}
    variant = ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in overrides.items())
    common = dict(folder=folder, task=identity["task"], algo=identity["algo"], seed=int(identity["seed"]),
                  variant=variant, overrides=overrides, risk_weight=_risk_weight(folder),
                  data_sha256=_data_sha256(folder))
    evaluation, bandit = os.path.join(folder, "eval.json"), os.path.join(folder, "bandit.json")
    try:
        if os.path.isfile(evaluation):
            with open(evaluation) as handle:
                content = json.load(handle)
            last = content["history"][-1]
            returns = last.get("returns")
            if returns is None:
                raise ReportError(f"{evaluation}: no per-episode returns (written before ramac kept them); "
                                  "re-evaluate the checkpoint")
            return Run(**common, iteration=int(last["iteration"]), episodes=len(returns),
                       mean=float(last["return_mean"]), cvar=lower_tail_mean(returns), returns=list(returns),
                       ood=last.get("ood_action_rate"), normalized=last.get("d4rl_normalized_score"),
                       env_id=content.get("meta", {}).get("env_id"), history=content["history"],
                       trace=_trace(folder))
        if os.path.isfile(bandit):
            with open(bandit) as handle:
                content = json.load(handle)
            rewards = content["rewards_learner"]
            return Run(**common, iteration=int(content["iterations"]), episodes=len(rewards),
                       mean=float(np.mean(rewards)), cvar=lower_tail_mean(rewards), returns=list(rewards),
                       ood=float(content["between_fraction_learner"]),
                       shares={k: float(content[f"{k}_fraction_learner"]) for k in ("safe", "ring", "between")},
                       offsets=content.get("offsets_learner"))
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as error:
        raise ReportError(f"{folder}: unreadable result file ({type(error).__name__}: {error})") from None
    raise ReportError(f"{folder}: no result file ({' or '.join(RESULT_FILES)}); the run has not finished"
                      + _progress(folder))


def _progress(folder: str) -> str:
    """The last evaluation an unfinished run logged to ``metrics.csv`` (its progress, for the left-out list)."""
    keys = ("eval/return_mean", "eval/return_cvar_0.1", "eval/ood_action_rate")
    logged = _trace(folder, keys)
    if "eval/return_mean" not in logged:
        return ""
    iteration, mean = logged["eval/return_mean"][-1]
    parts = [f"iteration {iteration}", f"return mean {mean:.2f}"]
    for key, label, digits in ((keys[1], "CVaR₀.₁", 2), (keys[2], "OOD rate", 3)):
        value = dict(logged.get(key, [])).get(iteration)
        if value is not None:
            parts.append(f"{label} {value:.{digits}f}")
    return f" (last evaluation in metrics.csv: {', '.join(parts)})"


def find_runs(paths: list[str]) -> tuple[list[Run], list[tuple[str, str]]]:
    """Every run folder under ``paths`` (a folder holding ``cell.json``, ``done.json`` or a result file), read;
    and the folders that could not be read with the reason (failed or unfinished runs are reported, not hidden)."""
    folders: set[str] = set()
    for path in paths:
        if not os.path.isdir(path):
            raise ReportError(f"{path}: no such folder")
        for root, _, files in os.walk(path):
            if {"cell.json", "done.json", *RESULT_FILES} & set(files):
                folders.add(root)
    runs, problems = [], []
    for folder in sorted(folders):
        try:
            runs.append(read_run(folder))
        except ReportError as error:
            problems.append((folder, str(error)))
    return runs, problems


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
SCORE_METRICS = (("normalized", "D4RL-normalised score"),)
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
                      "normalized": [r.normalized for r in members if r.normalized is not None]}
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


def _cell(row: dict[str, Any] | None, digits: int, latex: bool = False) -> str:
    if row is None:
        return "—"
    mean = f"{row['mean']:.{digits}f}"
    if math.isnan(row["se"]):
        return mean
    pm = r"$\pm$" if latex else "±"
    return f"{mean} {pm} {row['se']:.{digits}f} [{row['t_low']:.{digits}f}, {row['t_high']:.{digits}f}]"


def _layout(rows: list[dict[str, Any]], metrics: tuple[tuple[str, str], ...]
            ) -> tuple[list[str], list[tuple[str, str, dict[str, dict[str, Any]]]]]:
    columns = sorted({r["column"] for r in rows})
    index: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in rows:
        index[(row["task"], row["metric"])][row["column"]] = row
    body = []
    for task in sorted({r["task"] for r in rows}):
        for metric, label in metrics:
            if (task, metric) in index:
                body.append((task, label, index[(task, metric)]))
    return columns, body


def markdown_table(rows: list[dict[str, Any]], metrics: tuple[tuple[str, str], ...], digits: int = 1) -> str:
    columns, body = _layout(rows, metrics)
    lines = ["| task | metric | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for task, label, cells in body:
        lines.append(f"| {task} | {label} | " + " | ".join(_cell(cells.get(c), digits) for c in columns) + " |")
    return "\n".join(lines)


def bandit_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of :data:`BANDIT_METRICS` for the tasks whose runs have sample shares (the bandit)."""
    tasks = {r["task"] for r in rows if r["metric"].startswith("share_")}
    return [r for r in rows if r["task"] in tasks and r["metric"] in dict(BANDIT_METRICS)]


def _latex_escape(text: str) -> str:
    return text.replace("_", r"\_").replace("%", r"\%").replace("₀.₁", r"$_{0.1}$")


def by_column_table(rows: list[dict[str, Any]], metrics: tuple[tuple[str, str], ...], digits: int = 3,
                    latex: bool = False, key_label: str = "algorithm") -> str:
    """One line per (task, column) and one column per metric (the bandit table: few metrics, many algorithms);
    ``key_label`` heads the column of the columns' names."""
    index = {(r["task"], r["column"], r["metric"]): r for r in rows}
    keys = sorted({(r["task"], r["column"]) for r in rows})
    if latex:
        lines = [r"\begin{tabular}{ll" + "c" * len(metrics) + "}", r"\toprule",
                 f"task & {key_label} & " + " & ".join(_latex_escape(label) for _, label in metrics) + r" \\",
                 r"\midrule"]
        lines += [f"{_latex_escape(task)} & {_latex_escape(column)} & " + " & ".join(
            _cell(index.get((task, column, m)), digits, latex=True) for m, _ in metrics) + r" \\"
            for task, column in keys]
        return "\n".join([*lines, r"\bottomrule", r"\end{tabular}"])
    lines = [f"| task | {key_label} | " + " | ".join(label for _, label in metrics) + " |",
             "|---|---|" + "---|" * len(metrics)]
    lines += [f"| {task} | {column} | " + " | ".join(_cell(index.get((task, column, m)), digits) for m, _ in metrics)
              + " |" for task, column in keys]
    return "\n".join(lines)


def latex_table(rows: list[dict[str, Any]], metrics: tuple[tuple[str, str], ...], digits: int = 1) -> str:
    columns, body = _layout(rows, metrics)
    lines = [r"\begin{tabular}{ll" + "c" * len(columns) + "}", r"\toprule",
             "task & metric & " + " & ".join(_latex_escape(c) for c in columns) + r" \\", r"\midrule"]
    for task, label, cells in body:
        lines.append(f"{_latex_escape(task)} & {_latex_escape(label)} & "
                     + " & ".join(_cell(cells.get(c), digits, latex=True) for c in columns) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


SEED_COLUMNS = (("return_mean", "return mean", 1), ("cvar", "CVaR₀.₁", 1), ("cvar_first10", "worst of the first 10", 1),
                ("ood_action_rate", "OOD rate", 3), ("episode_length", "episode length", 1))


def _thousands(iteration: float) -> str:
    return f"{iteration / 1000:g}k"


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


def seed_table(rows: list[dict[str, Any]]) -> str:
    """One line per run: its return at each evaluation (the learning curve), then its final evaluation's
    :data:`SEED_COLUMNS`. Where every run was evaluated at the same iterations the header names them once."""
    runs: dict[tuple[str, str, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        runs[(row["task"], row["column"], row["seed"])].append(row)
    schedules = {tuple(r["iteration"] for r in curve) for curve in runs.values()}
    shared = schedules.pop() if len(schedules) == 1 else None
    curve_label = ("return at " + ", ".join(map(_thousands, shared))) if shared else "return at each evaluation"
    lines = ["| task | algorithm | seed | " + curve_label + " | " + " | ".join(c[1] for c in SEED_COLUMNS) + " |",
             "|---|---|---|---|" + "---|" * len(SEED_COLUMNS)]
    for (task, column, seed), curve in runs.items():
        points = ", ".join(("" if shared else f"{_thousands(r['iteration'])} ") + f"{r['return_mean']:.1f}"
                           for r in curve)
        last = curve[-1]
        values = " | ".join("—" if math.isnan(last[key]) else f"{last[key]:.{digits}f}"
                            for key, _, digits in SEED_COLUMNS)
        lines.append(f"| {task} | {column} | {seed} | {points} | {values} |")
    return "\n".join(lines)


def write_report(runs: list[Run], problems: list[tuple[str, str]], out: str) -> dict[str, str]:
    """Tables (``table1``/``table2``/``scores``/``bandit``/``paired`` as .md/.csv/.tex; ``seeds``, each locomotion
    run's curve, as .md/.csv) and ``report.md`` into ``out``; returns the paths (the figures:
    :func:`ramac.experiments.figures.write_figures`)."""
    os.makedirs(out, exist_ok=True)
    rows = table_rows(runs)
    special = {"bandit": bandit_rows(rows), "paired": paired_rows(runs)}
    paths: dict[str, str] = {}
    for name, metrics, digits in (("table1", METRICS, 2), ("table2", OOD_METRICS, 3), ("scores", SCORE_METRICS, 1),
                                  ("bandit", BANDIT_METRICS, 3), ("paired", PAIRED_METRICS, 3)):
        selected = special[name] if name in special else [r for r in rows if r["metric"] in dict(metrics)]
        if not selected:
            continue
        if name in special:
            key = "difference" if name == "paired" else "algorithm"
            texts = (by_column_table(selected, metrics, digits, key_label=key),
                     by_column_table(selected, metrics, digits, latex=True, key_label=key))
        else:
            texts = (markdown_table(selected, metrics, digits), latex_table(selected, metrics, digits))
        for suffix, text in zip(("md", "tex"), texts, strict=True):
            paths[f"{name}.{suffix}"] = os.path.join(out, f"{name}.{suffix}")
            with open(paths[f"{name}.{suffix}"], "w") as handle:
                handle.write(text + "\n")
        paths[f"{name}.csv"] = os.path.join(out, f"{name}.csv")
        with open(paths[f"{name}.csv"], "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(selected[0]))
            writer.writeheader()
            writer.writerows(selected)
    curves = seed_rows(runs)
    if curves:
        paths["seeds.md"], paths["seeds.csv"] = os.path.join(out, "seeds.md"), os.path.join(out, "seeds.csv")
        with open(paths["seeds.md"], "w") as handle:
            handle.write(seed_table(curves) + "\n")
        with open(paths["seeds.csv"], "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(curves[0]))
            writer.writeheader()
            writer.writerows(curves)
    paths["report.md"] = os.path.join(out, "report.md")
    with open(paths["report.md"], "w") as handle:
        handle.write(provenance(runs, problems) + "\n\n")
        for name, title in (("table1", "Return: mean and CVaR₀.₁"), ("table2", "OOD action rate"),
                            ("scores", "Normalised score"), ("bandit", "Bandit: where the sampled actions fall"),
                            ("paired", "Seed-paired differences between the columns of one algorithm"),
                            ("seeds", "Each run: its learning curve and final evaluation")):
            if f"{name}.md" in paths:
                with open(paths[f"{name}.md"]) as table:
                    handle.write(f"## {title}\n\n{table.read()}\n")
    return paths


def provenance(runs: list[Run], problems: list[tuple[str, str]]) -> str:
    """Which checkpoint, how many seeds and episodes, and what was left out."""
    lines = ["Each number: the final evaluation of the run's last checkpoint (`last.ckpt`, written at the end of "
             "training), no selection on the evaluation environment. Cells: mean ± standard error over seeds "
             "[95 % t interval]; the CSV files add the bootstrap interval over seeds."]
    by_task: dict[str, set[tuple[int, int, str | None]]] = defaultdict(set)
    for run in runs:
        by_task[run.task].add((run.iteration, run.episodes, run.env_id))
    for task, facts in sorted(by_task.items()):
        seeds = {len(m) for (t, _), m in groups(runs).items() if t == task}
        described = "; ".join(f"iteration {i}, {e} {'sampled actions' if env is None else 'episodes'} per seed"
                              + (f" on {env}" if env else "") for i, e, env in sorted(facts, key=str))
        data = sorted({run.data_sha256 for run in runs if run.task == task and run.data_sha256})
        lines.append(f"- {task}: {described}; {'/'.join(str(s) for s in sorted(seeds))} seeds per column"
                     + (f"; data sha256 {data[0][:12]}…" if data else "") + ".")
        if any(e == 10 for _, e, env in facts if env):
            lines.append(f"  - {task}: with 10 episodes, a seed's CVaR₀.₁ is its single worst episode.")
    for _, reason in problems:  # each reason starts with its folder
        lines.append(f"- **left out** {reason}")
    return "\n".join(lines)
