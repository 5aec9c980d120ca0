"""The faithful reference's evaluations and critic estimates as a markdown table, from its committed metrics.csv files
(README "Results", "The faithful reference"; the report lists the run only once it has finished).

    python bench/reference_table.py
"""

from __future__ import annotations

from ramac.experiments.runs import read_trace

RUN = "results/sweeps/hopper-reference/hopper-medium-expert/radac/default/seed0"
SHOWN = {10000, 20000, 30000, 50000, 100000, 150000, 190000, 200000, 250000}  # and every evaluation from 300k
EVAL = ("eval/return_mean", "eval/return_cvar_0.1", "eval/ood_action_rate")
TRAIN = ("train/actor/risk", "train/critic/risk_at_data", "train/critic/z_mean")


def table(run: str = RUN) -> str:
    """The README's reference table (every evaluation in SHOWN and from 300k on) from ``run``'s metrics.csv files."""
    logged = {key: dict(values) for key, values in read_trace(run, EVAL + TRAIN).items()}
    mean, cvar, ood = (logged[k] for k in EVAL)
    lines = ["| iteration | return mean | CVaR₀.₁ (50 episodes) | OOD rate | critic's CVaR₀.₁ at the policy's / the "
             "data's actions | critic's mean at the data's actions |", "|---|---|---|---|---|---|"]
    for step in sorted(mean):
        if step not in SHOWN and step < 300000:
            continue
        before = max(s for s in logged[TRAIN[0]] if s <= step)  # the training batch logged nearest before
        policy, data, z = (logged[k][before] for k in TRAIN)
        lines.append(f"| {step // 1000}k | {mean[step]:.1f} | {cvar[step]:.1f} | {100 * ood[step]:.1f} % | "
                     f"{policy:.0f} / {data:.0f} | {z:.0f} |")
    return "\n".join(lines)


def main() -> None:
    print(table())


if __name__ == "__main__":
    main()
