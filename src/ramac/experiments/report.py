"""``ramac report``'s files: every table as Markdown, CSV and LaTeX, each run's learning curve, and ``report.md``
with the provenance of the numbers (which checkpoint, how many seeds and episodes, which data, what was left out).
Reading runs: :mod:`ramac.experiments.runs`; statistics: :mod:`ramac.experiments.summaries`; formatting:
:mod:`ramac.experiments.tables`.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict

from ramac.experiments.runs import Run
from ramac.experiments.summaries import (
    BANDIT_METRICS,
    HAZARD_METRICS,
    METRICS,
    OOD_KAPPA_METRICS,
    OOD_METRICS,
    PAIRED_METRICS,
    SCORE_METRICS,
    SELECTION_METRICS,
    bandit_rows,
    groups,
    online_metrics,
    online_rows,
    paired_rows,
    seed_rows,
    selection_rows,
    table_rows,
)
from ramac.experiments.tables import by_column_table, latex_table, markdown_table, seed_table


def write_report(runs: list[Run], problems: list[tuple[str, str]], out: str,
                 cvar_targets: tuple[float, ...] = ()) -> dict[str, str]:
    """Tables (``table1``/``table2``/``ood_kappa``/``scores``/``hazard``/``bandit``/``paired``/``selection``/
    ``online`` as .md/.csv/.tex; ``seeds``, each locomotion run's curve, as .md/.csv) and ``report.md`` into ``out``;
    returns the paths (the figures: :func:`ramac.experiments.figures.write_figures`). ``cvar_targets``: the CVaR₀.₁
    levels of the online table (:func:`~ramac.experiments.summaries.online_rows`)."""
    os.makedirs(out, exist_ok=True)
    rows = table_rows(runs)
    special = {"bandit": bandit_rows(rows), "paired": paired_rows(runs), "selection": selection_rows(runs),
               "online": online_rows(runs, cvar_targets)}
    paths: dict[str, str] = {}
    for name, metrics, digits in (("table1", METRICS, 2), ("table2", OOD_METRICS, 3),
                                  ("ood_kappa", OOD_KAPPA_METRICS, 3), ("scores", SCORE_METRICS, 1),
                                  ("hazard", HAZARD_METRICS, 3),
                                  ("bandit", BANDIT_METRICS, 3), ("paired", PAIRED_METRICS, 3),
                                  ("selection", SELECTION_METRICS, 1), ("online", online_metrics(cvar_targets), 1)):
        selected = special[name] if name in special else [r for r in rows if r["metric"] in dict(metrics)]
        if not selected:
            continue
        if name in special:
            key = {"paired": "difference", "selection": "column · rule", "online": "column"}.get(name, "algorithm")
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
                            ("ood_kappa", "OOD action rate at other detector thresholds κ (the ranking's stability)"),
                            ("scores", "Normalised score"),
                            ("hazard", "Hazard: penalties paid and risky steps in the final evaluation"),
                            ("bandit", "Bandit: where the sampled actions fall"),
                            ("paired", "Seed-paired differences between the columns of one algorithm"),
                            ("selection", "Checkpoint selection: each rule's figure, re-evaluated on fresh episodes"),
                            ("online", "Online phase: the risk paid to learn (penalties, falls, the dip in CVaR₀.₁)"),
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
