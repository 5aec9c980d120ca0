"""The faithful reference's evaluations and critic estimates as a markdown table, from its committed metrics.csv files
(README "Results", "The faithful reference"; the report lists the run only once it has finished).

    python bench/reference_table.py
"""

from __future__ import annotations

import csv
import glob
import os

RUN = "results/sweeps/hopper-reference/hopper-medium-expert/radac/default/seed0"
SHOWN = {10000, 20000, 30000, 50000, 100000, 150000, 190000, 200000, 250000}  # and every evaluation from 300k


def logged(folder: str) -> tuple[dict[int, dict], dict[int, dict]]:
    """Evaluation rows and training rows by step; a resumed version replaces earlier rows from its first step."""
    def version(path: str) -> int:
        return int(os.path.basename(os.path.dirname(path)).rsplit("_", 1)[-1])

    evals: dict[int, dict] = {}
    trace: dict[int, dict] = {}
    for path in sorted(glob.glob(os.path.join(folder, "lightning_logs", "version_*", "metrics.csv")), key=version):
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("step")]
        if not rows:
            continue
        first = min(int(r["step"]) for r in rows)
        evals = {k: v for k, v in evals.items() if k < first}
        trace = {k: v for k, v in trace.items() if k < first}
        for row in rows:
            if row.get("eval/return_mean"):
                evals[int(row["step"])] = row
            if row.get("train/actor/risk"):
                trace[int(row["step"])] = row
    return evals, trace


def main() -> None:
    evals, trace = logged(RUN)
    print("| iteration | return mean | CVaR₀.₁ (50 episodes) | OOD rate | critic's CVaR₀.₁ at the policy's / the "
          "data's actions | critic's mean at the data's actions |")
    print("|---|---|---|---|---|---|")
    for step in sorted(evals):
        if step not in SHOWN and step < 300000:
            continue
        e, t = evals[step], trace[max(k for k in trace if k <= step)]
        print(f"| {step // 1000}k | {float(e['eval/return_mean']):.1f} | {float(e['eval/return_cvar_0.1']):.1f} | "
              f"{100 * float(e['eval/ood_action_rate']):.1f} % | {float(t['train/actor/risk']):.0f} / "
              f"{float(t['train/critic/risk_at_data']):.0f} | {float(t['train/critic/z_mean']):.0f} |")


if __name__ == "__main__":
    main()
