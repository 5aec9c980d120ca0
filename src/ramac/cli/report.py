"""``ramac report RUNS... [--out DIR]``: tables (Markdown, CSV, LaTeX) and figures from finished runs.

``RUNS`` are sweep folders or run folders. Unfinished or unreadable runs are listed in the report as left out,
never silently dropped (:mod:`ramac.experiments.report`).
"""

from __future__ import annotations

import argparse
import os

from rich.console import Console

from ramac.experiments.figures import write_figures
from ramac.experiments.report import write_report
from ramac.experiments.runs import ReportError, find_runs
from ramac.experiments.summaries import table_rows


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="ramac report", description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="sweep folders or run folders")
    parser.add_argument("--out", default=None, help="output folder (default: <first RUNS>/report)")
    parser.add_argument("--online-cvar-targets", type=float, nargs="+", default=[],
                        help="CVaR₀.₁ levels of the online table: the penalties each column paid to reach them")
    args = parser.parse_args(argv)
    runs, problems = find_runs(args.runs)
    if not runs:
        raise ReportError(f"{', '.join(args.runs)}: no finished run found"
                          + (f" ({len(problems)} unreadable: {problems[0][1]})" if problems else ""))
    out = args.out or os.path.join(args.runs[0], "report")
    paths = write_report(runs, problems, out, tuple(args.online_cvar_targets))
    paths.update(write_figures(runs, table_rows(runs), out))
    console = Console()
    with open(paths["report.md"]) as handle:
        console.print(handle.read(), markup=False, highlight=False, soft_wrap=True)
    console.print(f"written into {out}: {', '.join(sorted(os.path.relpath(p, out) for p in paths.values()))}",
                  soft_wrap=True)
    if problems:
        console.print(f"[yellow]{len(problems)} run(s) left out[/] (listed above)")
