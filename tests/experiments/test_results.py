"""The README's "Results" tables are what ``ramac report`` makes from the committed ``results/sweeps``: a change to
the report's numbers or to the committed runs that the README does not follow fails here."""

from __future__ import annotations

import os
import sys

import pytest

from ramac.experiments.report import (
    BANDIT_METRICS,
    METRICS,
    OOD_METRICS,
    bandit_rows,
    by_column_table,
    find_runs,
    markdown_table,
    seed_rows,
    seed_table,
    table_rows,
)

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def readme_results() -> str:
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    return text[text.index("## Results"):text.index("## Status")]


def runs_of(*sweeps: str) -> list:
    folders = [os.path.join(REPO, "results", "sweeps", s) for s in sweeps]
    if not all(os.path.isdir(f) for f in folders):
        pytest.skip(f"results not committed: {sweeps}")
    return find_runs(folders)[0]


def rows_of(*sweeps: str) -> list[dict]:
    return table_rows(runs_of(*sweeps))


@pytest.mark.parametrize("sweeps", [("bandit-study", "bandit-released-pairing"),  # every algorithm
                                    ("bandit-radac", "bandit-study/bandit/radac")])  # RADAC's risk-weight frontier
def test_the_bandit_tables_are_the_report_of_the_committed_runs(sweeps):
    rows = rows_of(*sweeps)
    assert by_column_table(bandit_rows(rows), BANDIT_METRICS, 3) in readme_results()


@pytest.mark.parametrize("sweeps", [("hopper-pilot",),
                                    ("hopper-study", "hopper-study-radac", "hopper-study-radac-normalized")])
def test_the_hopper_tables_are_the_report_of_the_committed_runs(sweeps):
    rows = rows_of(*sweeps)
    table1 = markdown_table([r for r in rows if r["metric"] in dict(METRICS)], METRICS, 2)
    table2 = markdown_table([r for r in rows if r["metric"] == "ood"], OOD_METRICS, 3)
    assert table1 in readme_results() and table2 in readme_results()


def test_the_studys_per_run_table_is_the_report_of_the_committed_runs():
    runs = runs_of("hopper-study", "hopper-study-radac", "hopper-study-radac-normalized")
    assert seed_table(seed_rows(runs)) in readme_results()


def test_the_reference_table_is_the_committed_runs_metrics():
    sys.path.insert(0, os.path.join(REPO, "bench"))
    try:
        from reference_table import RUN, table
    finally:
        sys.path.pop(0)
    if not os.path.isdir(os.path.join(REPO, RUN)):
        pytest.skip("the reference run is not committed")
    assert table(os.path.join(REPO, RUN)) in readme_results()


def test_the_normalised_pilots_resumed_run_equals_its_uninterrupted_rerun():
    """The normalised pilot was stopped and resumed from ``last.ckpt``; the study's normalised column reruns the
    same config and seed uninterrupted (README "The study"): their every evaluation must agree to the last bit."""
    pilot = os.path.join(REPO, "results", "sweeps", "hopper-pilot-normalized", "hopper-medium-expert", "radac",
                         "risk_weight=1.0", "seed0")
    rerun = os.path.join(REPO, "results", "sweeps", "hopper-study-radac-normalized", "hopper-medium-expert", "radac",
                         "normalize_risk=True", "seed0")
    if not all(os.path.isfile(os.path.join(f, "done.json")) for f in (pilot, rerun)):
        pytest.skip("the uninterrupted rerun (the normalised column's seed 0) has not finished")
    resumed = find_runs([pilot])[0][0]
    uninterrupted = find_runs([rerun])[0][0]
    assert len(resumed.history) == len(uninterrupted.history) == 6
    for a, b in zip(resumed.history, uninterrupted.history, strict=True):
        assert a["iteration"] == b["iteration"] and a["returns"] == b["returns"]
        assert a["ood_action_rate"] == b["ood_action_rate"]
