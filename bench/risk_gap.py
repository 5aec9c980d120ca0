"""Does the actor climb the critic off the data? The critic's CVaR at the policy's actions against the data's, beside
the OOD rate, evaluation by evaluation.

RADAC and RAFMAC log the critic's CVaR at the policy's actions (``train/actor/risk``) and at the batch's dataset actions
(``train/critic/risk_at_data``) every 50 iterations (``src/ramac/learners/radac.py``, module docstring). An actor that
exploits the critic's extrapolation finds actions the critic rates above the data's: the gap

    gap = risk(s, π(s)) − risk(s, a_data),   relative gap = gap / |risk(s, a_data)|

turns positive. For each run folder this prints, at every evaluation, the window means of the two (the logged rows of
the ``--window`` iterations up to the evaluation), the relative gap, the critic's mean quantile (``z_mean``, whether the
critic is still rising) and the evaluation's OOD rate and return mean; then, over every evaluation of every run given,
the rank correlation (Spearman, SciPy's) of the relative gap with the OOD rate. docs/results/halfcheetah.md cites it:

    python bench/risk_gap.py results/sweeps/halfcheetah-study/halfcheetah-medium-expert/radac/*/seed*
"""

from __future__ import annotations

import argparse

from scipy import stats

from ramac.experiments.runs import TRACED, ReportError, read_run

POLICY, DATA, CRITIC = TRACED  # train/actor/risk, train/critic/risk_at_data, train/critic/z_mean


def window_mean(rows: list[tuple[int, float]], end: int, width: int) -> float:
    """The mean of the logged values at steps in ``(end − width, end]``; NaN when none was logged there."""
    values = [v for s, v in rows if end - width < s <= end]
    return sum(values) / len(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", help="run folders of RADAC or RAFMAC (metrics.csv and eval.json)")
    parser.add_argument("--window", type=int, default=500, help="iterations before each evaluation to average")
    args = parser.parse_args()
    gaps, oods = [], []
    for folder in args.folders:
        try:
            run = read_run(folder)
        except ReportError as error:
            raise SystemExit(str(error)) from None
        if POLICY not in run.trace or DATA not in run.trace:
            raise SystemExit(f"{folder}: no {POLICY} and {DATA} in its metrics.csv (not a RADAC or RAFMAC run, or "
                             "its risk term never started)")
        print(folder)
        for e in sorted(run.history, key=lambda e: e["iteration"]):
            step = int(e["iteration"])
            policy, data = (window_mean(run.trace[k], step, args.window) for k in (POLICY, DATA))
            critic = window_mean(run.trace.get(CRITIC, []), step, args.window)
            relative = (policy - data) / abs(data) if data else float("nan")
            print(f"  {step:>7}  risk at policy {policy:9.2f}  at data {data:9.2f}  relative gap {relative:+7.3f}  "
                  f"z_mean {critic:8.2f}  OOD {e['ood_action_rate'] * 100:5.1f} %  return {e['return_mean']:8.1f}")
            if relative == relative:
                gaps.append(relative)
                oods.append(e["ood_action_rate"])
    print(f"Spearman ρ(relative gap, OOD rate) over {len(gaps)} evaluations of {len(args.folders)} runs: "
          f"{stats.spearmanr(gaps, oods).statistic:+.2f}")


if __name__ == "__main__":
    main()
