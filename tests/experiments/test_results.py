"""The results pages' tables (``docs/results/*.md``) and the README's headline table are what ``ramac report`` makes
from the committed ``results/sweeps``: a change to the report's numbers or to the committed runs that the pages do not
follow fails here."""

from __future__ import annotations

import csv
import glob
import json
import os
import sys

import pytest

from ramac.experiments.runs import find_runs
from ramac.experiments.summaries import (
    BANDIT_METRICS,
    HAZARD_METRICS,
    METRICS,
    OOD_KAPPA_METRICS,
    OOD_METRICS,
    PAIRED_METRICS,
    SELECTION_METRICS,
    bandit_rows,
    online_metrics,
    online_rows,
    paired_rows,
    seed_rows,
    selection_rows,
    table_rows,
)
from ramac.experiments.tables import by_column_table, markdown_table, seed_table

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
HOPPER_STUDY = ("hopper-study", "hopper-study-radac", "hopper-study-radac-normalized")  # the hopper study's sweeps


def readme_results() -> str:
    """Every results page, concatenated."""
    folder = os.path.join(REPO, "docs", "results")
    texts = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".md"):
            with open(os.path.join(folder, name)) as handle:
                texts.append(handle.read())
    return "\n".join(texts)


def runs_of(*sweeps: str) -> list:
    folders = [os.path.join(REPO, "results", "sweeps", s) for s in sweeps]
    if not all(os.path.isdir(f) for f in folders):
        pytest.skip(f"results not committed: {sweeps}")
    return find_runs(folders)[0]


def rows_of(*sweeps: str) -> list[dict]:
    return table_rows(runs_of(*sweeps))


@pytest.mark.parametrize("sweeps", [("bandit-study", "bandit-released-pairing"),  # every algorithm
                                    ("bandit-radac", "bandit-study/bandit/radac"),  # RADAC's risk-weight frontier
                                    ("regularizers-bandit", "regularizers-bandit-alone",  # open question (1)
                                     "regularizers-bandit-w2-reference"),
                                    ("risk-measures-bandit",  # open question (3), CVaR₀.₁ from the regulariser study
                                     "regularizers-bandit/bandit/radac/regularizer=bc"),
                                    ("online-bandit",)])  # offline-to-online on the bandit
def test_the_bandit_tables_are_the_report_of_the_committed_runs(sweeps):
    rows = rows_of(*sweeps)
    assert by_column_table(bandit_rows(rows), BANDIT_METRICS, 3) in readme_results()


@pytest.mark.parametrize("sweeps", [("hopper-pilot",),
                                    HOPPER_STUDY,
                                    ("energy-hopper",),  # the energy hazard (issue 32's check)
                                    ("halfcheetah-study",),  # issue 30
                                    ("halfcheetah-clip",),  # issue 30: the TD-target clip removed
                                    ("walker2d-study",)])  # issue 30, item 2
def test_the_locomotion_tables_are_the_report_of_the_committed_runs(sweeps):
    rows = rows_of(*sweeps)
    table1 = markdown_table([r for r in rows if r["metric"] in dict(METRICS)], METRICS, 2)
    table2 = markdown_table([r for r in rows if r["metric"] == "ood"], OOD_METRICS, 3)
    assert table1 in readme_results() and table2 in readme_results()


@pytest.mark.parametrize("sweep", ["energy-hopper", "halfcheetah-study", "walker2d-study"])
def test_the_hazard_table_is_the_report_of_the_committed_runs(sweep):
    rows = rows_of(sweep)
    table = markdown_table([r for r in rows if r["metric"] in dict(HAZARD_METRICS)], HAZARD_METRICS, 3)
    assert table in readme_results()


@pytest.mark.parametrize("sweep", ["halfcheetah-study", "walker2d-study"])
def test_the_kappa_and_selection_tables_are_the_report_of_the_committed_runs(sweep):
    runs = runs_of(sweep)
    rows = table_rows(runs)
    kappa = markdown_table([r for r in rows if r["metric"] in dict(OOD_KAPPA_METRICS)], OOD_KAPPA_METRICS, 3)
    selection = by_column_table(selection_rows(runs), SELECTION_METRICS, 1, key_label="column · rule")
    assert kappa in readme_results() and selection in readme_results()


def test_the_studys_per_run_table_is_the_report_of_the_committed_runs():
    runs = runs_of(*HOPPER_STUDY)
    assert seed_table(seed_rows(runs)) in readme_results()


@pytest.mark.parametrize("sweeps", [("bandit-study", "bandit-released-pairing"),
                                    HOPPER_STUDY])
def test_the_seed_paired_differences_are_the_report_of_the_committed_runs(sweeps):
    table = by_column_table(paired_rows(runs_of(*sweeps)), PAIRED_METRICS, 3, key_label="difference")
    assert table in readme_results()


def test_the_online_table_is_the_report_of_the_committed_runs():
    table = by_column_table(online_rows(runs_of("online-bandit")), online_metrics(), 1, key_label="column")
    assert table in readme_results()


SAME_UNTIL = [  # (run, the run it departs from, the first iteration at which they may differ), under results/sweeps
    # an online phase from iteration 3000 and the offline run it extends: the phase draws nothing before it starts
    # (docs/results/online.md cites the offline runs' shares as the phase's starting point)
    ("online-bandit/bandit/radac/default/seed0", "regularizers-bandit/bandit/radac/regularizer=bc/seed0", 3000),
    ("online-bandit/bandit/diffusion_ql/default/seed0", "bandit-study/bandit/diffusion_ql/default/seed0", 3000),
    ("online-bandit/bandit/bc/default/seed0", "bandit-study/bandit/bc/default/seed0", 3000),
    # RADAC without the released ±300 TD-target clip and with it: the same run until the first TD target of a batch
    # passes 300, in iterations 7001-7050 (seed 0, standard pairing), 8301-8350 (seeds 0 and 1, released pairing) or
    # 7101-7150 (seed 1, standard pairing; "step" counts from 0), and another run from there (docs/results/
    # halfcheetah.md, the clip test)
    ("halfcheetah-clip/halfcheetah-medium-expert/radac/quantile_pairing=standard/seed0",
     "halfcheetah-study/halfcheetah-medium-expert/radac/quantile_pairing=standard/seed0", 7000),
    ("halfcheetah-clip/halfcheetah-medium-expert/radac/quantile_pairing=released/seed0",
     "halfcheetah-study/halfcheetah-medium-expert/radac/quantile_pairing=released/seed0", 8300),
    ("halfcheetah-clip/halfcheetah-medium-expert/radac/quantile_pairing=standard/seed1",
     "halfcheetah-study/halfcheetah-medium-expert/radac/quantile_pairing=standard/seed1", 7100),
    ("halfcheetah-clip/halfcheetah-medium-expert/radac/quantile_pairing=released/seed1",
     "halfcheetah-study/halfcheetah-medium-expert/radac/quantile_pairing=released/seed1", 8300),
]


@pytest.mark.parametrize(("run", "reference", "split"), SAME_UNTIL)
def test_a_run_is_the_run_it_departs_from_until_its_change_acts(run, reference, split):
    """Every loss the two runs logged before ``split`` is the same to the last digit; the first logged after it
    differs (so the change is what acts there, not a difference of seed, data or machine)."""
    logged = []
    for folder in (run, reference):
        path = os.path.join(REPO, "results", "sweeps", folder, "lightning_logs", "version_0", "metrics.csv")
        if not os.path.isfile(path):
            pytest.skip(f"not committed: {folder}")
        with open(path, newline="") as handle:
            logged.append({(int(row["step"]), key): value for row in csv.DictReader(handle)
                           for key, value in row.items() if "loss" in key and value})
    before = [{k: v for k, v in losses.items() if k[0] < split} for losses in logged]
    assert len(before[0]) >= 60 and before[0] == before[1]  # every 50 iterations, one loss or more
    first_after = min(step for step, _ in logged[0] if step >= split)
    assert {k: v for k, v in logged[0].items() if k[0] == first_after} != \
        {k: v for k, v in logged[1].items() if k[0] == first_after}


def test_the_reference_table_is_the_committed_runs_metrics():
    sys.path.insert(0, os.path.join(REPO, "bench"))
    try:
        from reference_table import RUN, table
    finally:
        sys.path.pop(0)
    if not os.path.isdir(os.path.join(REPO, RUN)):
        pytest.skip("the reference run is not committed")
    assert table(os.path.join(REPO, RUN)) in readme_results()


SAME_CELL_TWICE = [  # (run, the same config and seed run again elsewhere), as folders under results/sweeps
    # the pilot's BC (evaluated every 2.5k) and the study's BC seed 0 (every 5k)
    ("hopper-pilot/hopper-medium-expert/bc/default/seed0", "hopper-study/hopper-medium-expert/bc/default/seed0"),
    # the pilot's faster-critic-and-target arm and the study's standard-pairing seed 0
    ("hopper-pilot/hopper-medium-expert/radac/critic_lr=0.0003,target_update_rate=0.05/seed0",
     "hopper-study-radac/hopper-medium-expert/radac/quantile_pairing=standard/seed0"),
    # the normalised pilot, stopped and resumed from last.ckpt, and the study column's uninterrupted seed 0
    ("hopper-pilot-normalized/hopper-medium-expert/radac/risk_weight=1.0/seed0",
     "hopper-study-radac-normalized/hopper-medium-expert/radac/normalize_risk=True/seed0"),
]


@pytest.mark.parametrize(("first", "second"), SAME_CELL_TWICE)
def test_a_cell_run_twice_evaluates_the_same_to_the_last_bit(first, second):
    """Runs are bitwise reproducible on CPU, across a resume and whatever the evaluation schedule (README "The
    study"): at every iteration both evaluated, the same episode returns and OOD rate."""
    folders = [os.path.join(REPO, "results", "sweeps", f) for f in (first, second)]
    if not all(os.path.isfile(os.path.join(f, "done.json")) for f in folders):
        pytest.skip(f"not both finished: {first}, {second}")
    histories = [{e["iteration"]: e for e in find_runs([f])[0][0].history} for f in folders]
    shared = sorted(set(histories[0]) & set(histories[1]))
    assert len(shared) == 6
    for iteration in shared:
        a, b = histories[0][iteration], histories[1][iteration]
        assert a["returns"] == b["returns"] and a["ood_action_rate"] == b["ood_action_rate"], iteration


STANDARD_AND_RELEASED = ("radac[quantile_pairing=standard]", "radac[quantile_pairing=released]")
# README's headline tables: (the table's first header cell, {row label: (sweeps, report columns)}).
HEADLINES = [
    ("hopper-medium-expert, 30k iterations", {
        "BC": (HOPPER_STUDY, ("bc",)),
        "Diffusion-QL": (HOPPER_STUDY, ("diffusion_ql",)),
        "ORAAC": (HOPPER_STUDY, ("oraac",)),
        "ORAAC-Diff.": (HOPPER_STUDY, ("oraac_diffusion",)),
        "RADAC as published": (HOPPER_STUDY, STANDARD_AND_RELEASED),
        "RADAC, risk term normalised": (HOPPER_STUDY, ("radac[normalize_risk=True]",))}),
    ("halfcheetah-medium-expert, 30k iterations, released schedule", {
        "BC": (("halfcheetah-study",), ("bc",)),
        "Diffusion-QL": (("halfcheetah-study",), ("diffusion_ql",)),
        "ORAAC": (("halfcheetah-study",), ("oraac",)),
        "ORAAC-Diff.": (("halfcheetah-study",), ("oraac_diffusion",)),
        "RADAC as released (": (("halfcheetah-study",), STANDARD_AND_RELEASED),
        "RADAC, risk term normalised": (("halfcheetah-study",), ("radac[normalize_risk=True,risk_weight=1.0]",)),
        "RADAC as released without the TD-target clip": (("halfcheetah-clip",), STANDARD_AND_RELEASED)}),
]


@pytest.mark.parametrize(("header", "table"), HEADLINES, ids=[header.split(",")[0] for header, _ in HEADLINES])
def test_the_readmes_headline_tables_are_the_report_of_the_committed_runs(header, table):
    """Each row of a README headline table ends in its columns' seeds, return mean ± se and CVaR₀.₁ ± se (rounded; no
    ± for one seed) and OOD rate (%, one decimal), joined by " / " where a row shows two columns; the table holds
    exactly these rows."""
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    readme = text[text.index("## Headline result"):text.index("## Documentation")]
    lines = readme[readme.index(f"| {header} |"):].split("\n\n")[0].splitlines()[2:]
    assert len(lines) == len(table), lines

    def number(r):
        value = f"{r['mean']:.0f}" if r["n"] == 1 else f"{r['mean']:.0f} ± {r['se']:.0f}"
        return value.replace("-", "−")

    for label, (sweeps, columns) in table.items():
        rows = {(r["column"], r["metric"]): r for r in rows_of(*sweeps)}
        picked = [[rows[(column, metric)] for column in columns] for metric in ("mean", "cvar_per_seed", "ood")]
        cells = [" / ".join(str(r["n"]) for r in picked[0]), " / ".join(number(r) for r in picked[0]),
                 " / ".join(number(r) for r in picked[1]),
                 " / ".join(f"{r['mean'] * 100:.1f}" for r in picked[2]) + " %"]
        line = next(line for line in lines if line.startswith(f"| {label}"))
        assert line.endswith("| " + " | ".join(cells) + " |"), line


def calibrations(*names: str) -> list[dict]:
    """The committed ``ramac calibrate`` outputs ``results/calibration/<name>.json``, in order (skips if one is not)."""
    paths = [os.path.join(REPO, "results", "calibration", f"{name}.json") for name in names]
    missing = [path for path in paths if not os.path.isfile(path)]
    if missing:
        pytest.skip(f"not committed: {missing[0]}")
    loaded = []
    for path in paths:
        with open(path) as handle:
            loaded.append(json.load(handle))
    return loaded


def test_the_halfcheetah_radac_critics_sit_at_the_td_target_clip_and_oraacs_does_not():
    """docs/results/halfcheetah.md: on the same 20 calibration pairs every committed RADAC critic's 0.9-quantile
    (eleven of the three columns so far) is within 5 of the released ±300 clip at every pair, although the
    pairs' Monte-Carlo mean returns span 435–712, while ORAAC's (no clip) spreads over more than 200; RADAC's predicted
    CVaR₀.₁ is 3.1–6.0 Monte-Carlo σ below the returns'."""
    pattern = os.path.join(REPO, "results", "calibration", "halfcheetah-study-radac-*-last.json")
    radac = sorted(os.path.basename(path).removesuffix(".json") for path in glob.glob(pattern))
    assert len(radac) >= 11, radac
    names = (*radac, "halfcheetah-study-oraac-seed0-last")
    loaded = dict(zip(names, calibrations(*names), strict=True))
    rows = {tuple(d["meta"]["rows"]) for d in loaded.values()}
    assert len(rows) == 1  # the same 20 state-action pairs
    for name, d in loaded.items():
        assert d["coverage_levels"][-1] == 0.9
        top = [quantiles[-1] for quantiles in d["quantiles_at_levels"]]
        if "-oraac-" in name:
            assert max(top) - min(top) > 200 and abs(d["figures"]["all"]["cvar_error_per_sigma"]) < 1
        else:
            means = [sum(r) / len(r) for r in d["returns"]]  # the run's own policy after the pair's action
            assert min(means) > 430 and max(means) < 720
            assert all(abs(q - 300) < 5 for q in top), (name, top)
            assert -6.1 < d["figures"]["all"]["cvar_error_per_sigma"] < -3.0


def test_without_the_td_target_clip_the_halfcheetah_radac_critics_rise_far_above_the_returns():
    """docs/results/halfcheetah.md, the clip test: on the same 20 pairs as the clipped runs (seed 0), the clip-free
    critics' 0.9-quantiles all pass 600 (the cap was 300) and their CVaR₀.₁ is more than 20 Monte-Carlo σ above the
    returns (+100 / +22 σ, standard / released pairing; seed 1: +68 / +81 σ), while the clipped runs' is 4.5 σ below."""
    pairings = ("standard", "released")
    clipped = calibrations(*(f"halfcheetah-study-radac-{pairing}-seed0-last" for pairing in pairings))
    free = calibrations(*(f"halfcheetah-clip-radac-{pairing}-seed{seed}-last"
                          for seed in (0, 1) for pairing in pairings))
    assert len({tuple(d["meta"]["rows"]) for d in clipped + free}) == 1
    assert all(d["figures"]["all"]["cvar_error_per_sigma"] < -4 for d in clipped)
    for d in free:
        assert min(quantiles[-1] for quantiles in d["quantiles_at_levels"]) > 600
        assert d["figures"]["all"]["cvar_error_per_sigma"] > 20
