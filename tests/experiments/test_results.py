"""The README's "Results" tables are what ``ramac report`` makes from the committed ``results/sweeps``: a change to
the report's numbers or to the committed runs that the README does not follow fails here."""

from __future__ import annotations

import os

import pytest

from ramac.experiments.report import (
    BANDIT_METRICS,
    METRICS,
    OOD_METRICS,
    bandit_rows,
    by_column_table,
    find_runs,
    markdown_table,
    table_rows,
)

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def readme_results() -> str:
    with open(os.path.join(REPO, "README.md")) as handle:
        text = handle.read()
    return text[text.index("## Results"):text.index("## Status")]


def rows_of(*sweeps: str) -> list[dict]:
    folders = [os.path.join(REPO, "results", "sweeps", s) for s in sweeps]
    if not all(os.path.isdir(f) for f in folders):
        pytest.skip(f"results not committed: {sweeps}")
    runs, _ = find_runs(folders)
    return table_rows(runs)


def test_the_bandit_table_is_the_report_of_the_committed_runs():
    rows = rows_of("bandit-study", "bandit-released-pairing")
    assert by_column_table(bandit_rows(rows), BANDIT_METRICS, 3) in readme_results()


def test_the_pilot_tables_are_the_report_of_the_committed_runs():
    rows = rows_of("hopper-pilot")
    table1 = markdown_table([r for r in rows if r["metric"] in dict(METRICS)], METRICS, 2)
    table2 = markdown_table([r for r in rows if r["metric"] == "ood"], OOD_METRICS, 3)
    assert table1 in readme_results() and table2 in readme_results()


def test_the_frontier_table_is_the_report_of_the_committed_runs():
    rows = rows_of("bandit-radac", "bandit-study/bandit/radac")
    assert by_column_table(bandit_rows(rows), BANDIT_METRICS, 3) in readme_results()
