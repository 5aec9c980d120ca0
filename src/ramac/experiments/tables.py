"""The summaries' rows as Markdown and LaTeX tables (cells: mean ± standard error [95 % t interval])."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any


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
