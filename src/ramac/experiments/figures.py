"""The report's figures: per-task bars with intervals, learning curves, the mean-against-CVaR frontier over a
risk-weight grid, and the bandit grid (one panel per algorithm, as the paper's Fig. 3)."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from typing import Any

import numpy as np

from ramac.experiments.runs import TRACED, Run
from ramac.experiments.summaries import Summary, evaluation_cvar, groups, summarise

RISKY_WINDOW = 100  # steps in the online figure's moving share of risky steps (the online phase's episode window)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def _evaluation_mean(entry: dict[str, Any]) -> float:
    return float(entry["return_mean"])


def write_figures(runs: list[Run], rows: list[dict[str, Any]], out: str) -> dict[str, str]:
    plt = _pyplot()
    paths: dict[str, str] = {}
    by_task: dict[str, dict[str, list[Run]]] = defaultdict(dict)
    for (task, column), members in groups(runs).items():
        by_task[task][column] = members
    index = {(r["task"], r["column"], r["metric"]): r for r in rows}
    for task, columns in sorted(by_task.items()):
        names = sorted(columns)
        # Bars: mean and per-seed CVaR with their t intervals.
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(names), 3.6), constrained_layout=True)
        width = 0.38
        for offset, metric, label in ((-width / 2, "mean", "mean"), (width / 2, "cvar_per_seed", "CVaR₀.₁")):
            stats = [index[(task, n, metric)] for n in names]
            means = [s["mean"] for s in stats]
            errors = np.array([[s["mean"] - s["t_low"], s["t_high"] - s["mean"]] if not math.isnan(s["se"])
                               else [0.0, 0.0] for s in stats]).T
            ax.bar(np.arange(len(names)) + offset, means, width, yerr=errors, capsize=3, label=label)
        ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
        ax.axhline(0, color="black", lw=0.6)
        ax.set(title=f"{task}: final evaluation, 95 % t interval over seeds", ylabel="return")
        ax.legend()
        paths[f"bars_{task}"] = _save(fig, os.path.join(out, "figures", f"bars_{task}.png"))
        plt.close(fig)
        # Learning curves, where runs evaluated more than once: the return's mean and CVaR₀.₁ at each evaluation.
        curves = {n: m for n, m in columns.items() if all(len(r.history) > 1 for r in m)}
        if curves:
            fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), constrained_layout=True, sharex=True)
            for index_, name in enumerate(names):  # the diagnostics figure's colours
                if name not in curves:
                    continue
                members = curves[name]
                length = min(len(r.history) for r in members)
                iterations = [members[0].history[i]["iteration"] for i in range(length)]
                for ax, value in ((axes[0], _evaluation_mean), (axes[1], evaluation_cvar)):
                    values = np.array([[value(r.history[i]) for i in range(length)] for r in members])
                    summaries = [summarise(list(values[:, i])) for i in range(length)]
                    ax.plot(iterations, [s.mean for s in summaries], marker="o", ms=3, color=f"C{index_}",
                            label=f"{name} ({len(members)} seed{'s' if len(members) > 1 else ''})")
                    if len(members) > 1:
                        ax.fill_between(iterations, [s.t_low for s in summaries], [s.t_high for s in summaries],
                                        color=f"C{index_}", alpha=0.15)
            axes[0].set(xlabel="iteration", ylabel="return", title="return mean")
            axes[1].set(xlabel="iteration", ylabel="return", title="CVaR₀.₁ of the evaluation's episodes")
            fig.suptitle(f"{task}: evaluation during training (mean over seeds, 95 % t interval)", fontsize=11)
            axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
            paths[f"curves_{task}"] = _save(fig, os.path.join(out, "figures", f"curves_{task}.png"))
            plt.close(fig)
        # Diagnostics: the critic's risk estimate at the policy's against at the data's actions during training (the
        # risk term exploiting the critic shows as the first far above the second) and the OOD rate (mean of seeds).
        if any(TRACED[0] in r.trace for m in columns.values() for r in m):
            fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15, 3.8), constrained_layout=True)
            for index_, (name, members) in enumerate(sorted(columns.items())):  # BC: its OOD rate only
                color = f"C{index_}"
                for ax, key, style, label in ((left, TRACED[0], "-", f"{name}: at the policy's actions"),
                                              (left, TRACED[1], "--", f"{name}: at the data's actions"),
                                              (middle, TRACED[2], "-", name)):
                    common = sorted(set.intersection(*(set(dict(r.trace.get(key, [])).keys()) for r in members)))
                    if common:
                        values = [np.mean([dict(r.trace[key])[s] for r in members]) for s in common]
                        ax.plot(common, values, style, color=color, lw=1, label=label)
                length = min(len(r.history) for r in members)
                if length > 1 and all("ood_action_rate" in r.history[0] for r in members):
                    iterations = [members[0].history[i]["iteration"] for i in range(length)]
                    rates = [np.mean([r.history[i]["ood_action_rate"] for r in members]) for i in range(length)]
                    right.plot(iterations, rates, marker="o", color=color, label=name)
            left.set(title="critic's CVaR₀.₁ estimate (twin min), training batches", xlabel="iteration",
                     ylabel="estimate")
            middle.set(title="critic's mean estimate at the data's actions", xlabel="iteration", ylabel="estimate")
            for ax in (left, middle, right):
                if ax.get_legend_handles_labels()[0]:
                    ax.legend(fontsize=7)
            right.set(title="OOD action rate at evaluation", xlabel="iteration", ylabel="rate")
            paths[f"diagnostics_{task}"] = _save(fig, os.path.join(out, "figures", f"diagnostics_{task}.png"))
            plt.close(fig)
        # Frontier over risk weights: an algorithm's columns that differ from its defaults in the risk weight only
        # (a risk_weight grid, and the sweep at the default weight beside it), where there are two weights or more.
        frontier: dict[str, list[tuple[float, Summary, Summary]]] = defaultdict(list)
        for members in columns.values():
            if members[0].risk_weight is not None and all(k.endswith("risk_weight") for k in members[0].overrides):
                frontier[members[0].algo].append((members[0].risk_weight, summarise([r.mean for r in members]),
                                                  summarise([r.cvar for r in members])))
        frontier = {algo: points for algo, points in frontier.items() if len({p[0] for p in points}) > 1}
        if frontier:
            fig, ax = plt.subplots(figsize=(5.8, 4.2), constrained_layout=True)
            for algo, points in sorted(frontier.items()):
                points.sort(key=lambda p: p[0])
                ax.errorbar([m.mean for _, m, _ in points], [c.mean for _, _, c in points],
                            xerr=[np.nan_to_num(m.se) for _, m, _ in points],
                            yerr=[np.nan_to_num(c.se) for _, _, c in points], marker="o", capsize=3, label=algo)
                for weight, mean, cvar in points:
                    ax.annotate(f"{weight:g}", (mean.mean, cvar.mean), fontsize=8, xytext=(4, 4),
                                textcoords="offset points")
            ax.set(title=f"{task}: mean against CVaR₀.₁ as the risk weight moves\n(mean ± SE over seeds)",
                   xlabel="mean", ylabel="CVaR₀.₁ (per seed, then mean)")
            ax.legend()
            paths[f"frontier_{task}"] = _save(fig, os.path.join(out, "figures", f"frontier_{task}.png"))
            plt.close(fig)
        # Online phases: evaluation CVaR₀.₁ (where the runs evaluate: not the bandit), the share of risky steps (a
        # moving window) and cumulative penalties against the environment steps taken online.
        online = {n: m for n, m in columns.items() if all(r.online is not None for r in m)}
        if online:
            evaluated = any(int(e["iteration"]) >= r.online.start_iteration  # type: ignore[union-attr]
                            for m in online.values() for r in m for e in r.history)
            fig, axes = plt.subplots(1, 2 + evaluated, figsize=(5.4 * (2 + evaluated), 4.2), constrained_layout=True)
            *left, middle, right = axes
            for index_, name in enumerate(names):
                if name not in online:
                    continue
                color = f"C{index_}"
                for run_index, run in enumerate(online[name]):
                    record = run.online
                    assert record is not None
                    label = f"{name}" if run_index == 0 else None
                    points = [(record.env_steps(int(e["iteration"])), evaluation_cvar(e)) for e in run.history
                              if int(e["iteration"]) >= record.start_iteration]
                    if points:
                        left[0].plot(*zip(*points, strict=True), marker="o", ms=3, color=color, alpha=0.8,
                                     label=label)
                    steps = np.arange(1, len(record.step_penalties) + 1)
                    right.plot(steps, np.cumsum(record.step_penalties), color=color, alpha=0.8, label=label)
                    window = min(RISKY_WINDOW, len(steps))
                    if window:
                        share = np.convolve(record.step_risky, np.ones(window) / window, mode="valid")
                        middle.plot(steps[window - 1:], share, color=color, alpha=0.8, label=label)
            if left:
                left[0].set(title="evaluation CVaR₀.₁ (each seed)", xlabel="online environment steps", ylabel="return")
            middle.set(title=f"share of risky steps (last {RISKY_WINDOW} steps, each seed)",
                       xlabel="online environment steps", ylabel="risky steps / steps")
            right.set(title="penalties paid while learning (each seed)", xlabel="online environment steps",
                      ylabel="cumulative penalties")
            axes[0].legend(fontsize=8)
            fig.suptitle(f"{task}: the online phase", fontsize=11)
            paths[f"online_{task}"] = _save(fig, os.path.join(out, "figures", f"online_{task}.png"))
            plt.close(fig)
        # The bandit grid: the first seed's samples per column.
        panels = {n: m[0] for n, m in columns.items() if m[0].offsets is not None}
        if panels:
            count = len(panels)
            cols = min(count, 6)
            rows_ = math.ceil(count / cols)
            fig, axes = plt.subplots(rows_, cols, figsize=(3.7 * cols, 3.6 * rows_), constrained_layout=True,
                                     squeeze=False)
            for ax in axes.flat[count:]:
                ax.axis("off")
            for ax, (name, run) in zip(axes.flat, sorted(panels.items()), strict=False):
                offsets = np.asarray(run.offsets)
                ax.scatter(offsets[:, 0], offsets[:, 1], s=2)
                ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal")
                ax.set_title(f"{name} (seed {run.seed})\ncentre {run.shares['safe']:.0%}, ring "
                             f"{run.shares['ring']:.0%}, between {run.shares['between']:.0%}", fontsize=9)
            fig.suptitle(f"{task}: sampled actions relative to the safe centre")
            paths[f"grid_{task}"] = _save(fig, os.path.join(out, "figures", f"grid_{task}.png"))
            plt.close(fig)
    return paths
