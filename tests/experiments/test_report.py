"""``ramac report`` against hand-computed tables: means, standard errors, t intervals, per-seed and pooled CVaR;
broken runs are reported, not hidden."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ramac.experiments.report import write_report
from ramac.experiments.runs import ReportError, find_runs, lower_tail_mean
from ramac.experiments.summaries import paired_rows, seed_rows, table_rows
from ramac.experiments.tables import seed_table

# three seeds of 10 episodes each for one algorithm, two seeds for another
RETURNS = {
    ("radac", 0): [10, 12, 8, 11, 9, 30, 10, 10, -5, 10],
    ("radac", 1): [20, 21, 19, 22, 18, 20, 20, 20, 20, 0],
    ("radac", 2): [15, 15, 15, 15, 15, 15, 15, 15, 15, 15],
    ("bc", 0): [5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
    ("bc", 1): [1, 2, 3, 4, 5, 6, 7, 8, 9, -100],
}


def make_run(root, algo: str, seed: int, returns: list[float], ood: float,
             overrides: dict[str, str] | None = None, ood_by_kappa: dict[float, float] | None = None,
             hazard: dict[str, float] | None = None) -> None:
    variant = ",".join(f"{k}={v}" for k, v in (overrides or {}).items()) or "default"
    folder = root / "hopper-medium-expert" / algo / variant / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "cell.json").write_text(json.dumps({"task": "hopper-medium-expert", "algo": algo, "seed": seed,
                                                  "overrides": overrides or {}}))
    last = {"iteration": 2000.0, "return_mean": float(np.mean(returns)), "ood_action_rate": ood,
            "d4rl_normalized_score": 1.0, "returns": returns,
            **{f"ood_action_rate_kappa_{k:g}": v for k, v in (ood_by_kappa or {}).items()}, **(hazard or {})}
    (folder / "eval.json").write_text(json.dumps({"meta": {"env_id": "Hopper-v5"}, "history": [last]}))
    (folder / "done.json").write_text("{}")


@pytest.fixture
def runs_root(tmp_path):
    for (algo, seed), returns in RETURNS.items():
        make_run(tmp_path, algo, seed, returns, ood=0.1 * (seed + 1))
    return tmp_path


def test_tables_against_hand_computation(runs_root):
    runs, problems = find_runs([str(runs_root)])
    assert not problems and len(runs) == 5
    rows = {(r["column"], r["metric"]): r for r in table_rows(runs)}
    # radac, mean return: seed means 10.5, 18.0, 15.0
    means = [10.5, 18.0, 15.0]
    mean = sum(means) / 3
    sd = math.sqrt(sum((m - mean) ** 2 for m in means) / 2)
    se = sd / math.sqrt(3)
    row = rows[("radac", "mean")]
    assert row["mean"] == pytest.approx(mean) and row["se"] == pytest.approx(se)
    assert row["t_high"] - row["mean"] == pytest.approx(4.302652729749464 * se)  # t(0.975, 2)
    assert row["boot_low"] <= mean <= row["boot_high"]
    # CVaR₀.₁ of 10 episodes: each seed's single worst episode (-5, 0, 15), then their mean
    assert rows[("radac", "cvar_per_seed")]["mean"] == pytest.approx((-5 + 0 + 15) / 3)
    # pooled: the worst 3 of all 30 episodes (-5, 0, 8)
    assert rows[("radac", "cvar_pooled")]["mean"] == pytest.approx((-5 + 0 + 8) / 3)
    # bc, 2 seeds: t(0.975, 1) = 12.706
    bc = rows[("bc", "cvar_per_seed")]
    assert bc["mean"] == pytest.approx((5 - 100) / 2)
    assert bc["se"] == pytest.approx(105 / 2)  # sd = 105 / √2 over two seeds, se = sd / √2
    assert bc["t_high"] - bc["mean"] == pytest.approx(12.706204736174698 * 105 / 2)
    assert rows[("bc", "ood")]["mean"] == pytest.approx(0.15)
    assert lower_tail_mean([3.0, 1.0, 2.0], 0.5) == pytest.approx(1.5)  # ⌈0.5·3⌉ = 2 smallest


def test_the_kappa_table_summarises_each_threshold_over_seeds(tmp_path):
    rates = {0: {1.0: 0.6, 2.0: 0.4, 3.0: 0.2, 5.0: 0.1, 10.0: 0.0},
             1: {1.0: 0.8, 2.0: 0.5, 3.0: 0.3, 5.0: 0.2, 10.0: 0.1}}
    for seed, by_kappa in rates.items():
        make_run(tmp_path, "radac", seed, RETURNS[("radac", seed)], ood=by_kappa[3.0], ood_by_kappa=by_kappa)
    make_run(tmp_path, "bc", 0, RETURNS[("bc", 0)], ood=0.05)  # an evaluation from before the κ grid
    runs, _ = find_runs([str(tmp_path)])
    rows = {(r["column"], r["metric"]): r for r in table_rows(runs)}
    for kappa, expected in ((1, 0.7), (3, 0.25), (5, 0.15), (10, 0.05)):
        row = rows[("radac", f"ood_kappa_{kappa}")]
        assert row["mean"] == pytest.approx(expected) and row["seeds"] == 2
        assert row["se"] == pytest.approx(abs(rates[0][kappa] - rates[1][kappa]) / 2)  # two seeds: |x1 − x2| / 2
    assert ("radac", "ood_kappa_2") not in rows and not any(k[0] == "bc" and "kappa" in k[1] for k in rows)
    paths = write_report(runs, [], str(tmp_path / "report"))
    table = Path(paths["ood_kappa.md"]).read_text()
    assert "OOD action rate at κ = 10" in table and "0.700 ± 0.100" in table
    assert "## OOD action rate at other detector thresholds κ" in Path(paths["report.md"]).read_text()


def test_the_hazard_table_summarises_penalties_and_risky_steps_over_seeds(tmp_path):
    for seed, (penalties, risky) in enumerate(((0.4, 0.013), (1.0, 0.031), (1.6, 0.043))):
        make_run(tmp_path, "radac", seed, RETURNS[("radac", seed)], ood=0.1,
                 hazard={"penalties_per_episode": penalties, "risky_state_rate": risky})
    make_run(tmp_path, "bc", 0, RETURNS[("bc", 0)], ood=0.1)  # an evaluation without a hazard
    runs, _ = find_runs([str(tmp_path)])
    rows = {(r["column"], r["metric"]): r for r in table_rows(runs)}
    assert rows[("radac", "penalties")]["mean"] == pytest.approx(1.0)
    assert rows[("radac", "penalties")]["se"] == pytest.approx(0.6 / math.sqrt(3))  # sd of (0.4, 1.0, 1.6) is 0.6
    assert rows[("radac", "risky")]["mean"] == pytest.approx(0.029)
    assert ("bc", "penalties") not in rows and ("bc", "risky") not in rows
    paths = write_report(runs, [], str(tmp_path / "report"))
    assert "| penalties per episode |" in Path(paths["hazard.md"]).read_text()
    assert "## Hazard: penalties paid and risky steps" in Path(paths["report.md"]).read_text()


def test_written_tables_and_a_broken_run_is_listed(runs_root):
    broken = runs_root / "hopper-medium-expert" / "fql" / "default" / "seed0"
    broken.mkdir(parents=True)
    (broken / "cell.json").write_text(json.dumps({"task": "hopper-medium-expert", "algo": "fql", "seed": 0}))
    half = runs_root / "hopper-medium-expert" / "cql" / "default" / "seed0"
    half.mkdir(parents=True)
    (half / "cell.json").write_text(json.dumps({"task": "hopper-medium-expert", "algo": "cql", "seed": 0}))
    (half / "eval.json").write_text('{"history": [')
    runs, problems = find_runs([str(runs_root)])
    assert len(runs) == 5 and {p[0] for p in problems} == {str(broken), str(half)}
    paths = write_report(runs, problems, str(runs_root / "report"))
    table = Path(paths["table1.md"]).read_text()
    # bc: seed means 9.5 and -5.5; radac: 10.5, 18, 15 (se 2.18, t(0.975, 2) = 4.303)
    assert "| hopper-medium-expert | return mean | 2.00 ± 7.50 [-93.30, 97.30] | 14.50 ± 2.18 [5.12, 23.88] |" in table
    assert "CVaR₀.₁ (pooled episodes)" in table and "CVaR₀.₁ (per seed, then mean)" in table
    report = Path(paths["report.md"]).read_text()
    assert f"**left out** {broken}: no result file" in report
    assert "unreadable result file" in report
    assert "single worst episode" in report
    assert r"\toprule" in Path(paths["table1.tex"]).read_text()
    assert Path(paths["table2.csv"]).read_text().startswith("task,column,metric,seeds")


def test_a_seed_given_twice_is_refused(runs_root, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    make_run(other, "bc", 0, [1.0] * 10, 0.0)
    runs, _ = find_runs([str(runs_root), str(other)])
    with pytest.raises(ReportError, match="seed given twice"):
        table_rows(runs)


def test_paper_protocol_cvar_uses_the_first_ten_episodes(tmp_path):
    # 20 episodes: the first ten's worst is 3, the whole run's two worst are -50 and -40
    returns = [5, 4, 3, 9, 9, 9, 9, 9, 9, 9, -50, -40, 9, 9, 9, 9, 9, 9, 9, 9]
    make_run(tmp_path, "radac", 0, returns, 0.0)
    make_run(tmp_path, "radac", 1, [7.0] * 20, 0.0)
    rows = {r["metric"]: r for r in table_rows(find_runs([str(tmp_path)])[0])}
    assert rows["cvar_first10"]["mean"] == pytest.approx((3 + 7) / 2)
    assert rows["cvar_first10"]["episodes_per_seed"] == 10
    assert rows["cvar_per_seed"]["mean"] == pytest.approx((-45 + 7) / 2)


def test_each_runs_curve_and_final_evaluation(tmp_path):
    make_run(tmp_path, "bc", 0, [4.0, -2.0, 6.0], 0.05)
    folder = tmp_path / "hopper-medium-expert" / "bc" / "default" / "seed0"
    content = json.loads((folder / "eval.json").read_text())
    first = {"iteration": 1000.0, "return_mean": 7.25, "returns": [7.0, 7.5], "episode_length": 12.0}
    content["history"] = [first, {**content["history"][-1], "episode_length": 30.5}]
    (folder / "eval.json").write_text(json.dumps(content))
    make_run(tmp_path, "bc", 1, [1.0, 3.0], 0.2)  # evaluated at 2000 only: the schedules differ
    runs, _ = find_runs([str(tmp_path)])
    rows = seed_rows(runs)
    assert [(r["seed"], r["iteration"]) for r in rows] == [(0, 1000), (0, 2000), (1, 2000)]
    assert rows[1]["cvar"] == -2.0 and rows[1]["return_mean"] == pytest.approx(8 / 3)
    assert rows[0]["cvar_first10"] == 7.0 and math.isnan(rows[0]["ood_action_rate"])
    table = seed_table(rows)
    assert "| hopper-medium-expert | bc | 0 | 1k 7.2, 2k 2.7 | 2.7 | -2.0 | -2.0 | 0.050 | 30.5 |" in table
    assert "| hopper-medium-expert | bc | 1 | 2k 2.0 | 2.0 | 1.0 | 1.0 | 0.200 | — |" in table
    # one schedule for every run: named once in the header
    assert "| return at 2k |" in seed_table([r for r in rows if r["iteration"] == 2000])
    paths = write_report(runs, [], str(tmp_path / "report"))
    assert Path(paths["seeds.md"]).read_text().strip() == table
    assert Path(paths["seeds.csv"]).read_text().startswith("task,column,seed,iteration,return_mean")


def test_seed_paired_differences_within_an_algorithm(tmp_path):
    pairing = "model.init_args.quantile_pairing"
    released = {0: [10.0, 30.0], 1: [20.0, 20.0], 2: [5.0, 7.0]}
    standard = {0: [0.0, 10.0], 1: [14.0, 16.0], 3: [1.0, 1.0]}  # seeds 0 and 1 in common with `released`
    for seed, returns in released.items():
        make_run(tmp_path, "radac", seed, returns, 0.1, {pairing: "released"})
    for seed, returns in standard.items():
        make_run(tmp_path, "radac", seed, returns, 0.3 + 0.1 * seed, {pairing: "standard"})
    make_run(tmp_path, "bc", 0, [100.0, 100.0], 0.0)  # another algorithm: never paired
    make_run(tmp_path, "bc", 1, [90.0, 90.0], 0.0)
    runs, _ = find_runs([str(tmp_path)])
    rows = {r["metric"]: r for r in paired_rows(runs)}
    assert {r["column"] for r in paired_rows(runs)} == {
        "radac[quantile_pairing=released] − radac[quantile_pairing=standard] (seeds 0, 1)"}
    # return mean: seed 0 20 − 5 = 15, seed 1 20 − 15 = 5; mean 10, sd 5√2, se 5
    assert rows["mean"]["mean"] == pytest.approx(10.0) and rows["mean"]["se"] == pytest.approx(5.0)
    assert rows["mean"]["t_high"] - 10.0 == pytest.approx(12.706204736174698 * 5.0)  # t(0.975, 1)
    # CVaR₀.₁ of 2 returns is the worse one: seed 0 10 − 0, seed 1 20 − 14
    assert rows["cvar_per_seed"]["mean"] == pytest.approx(8.0) and rows["cvar_per_seed"]["n"] == 2
    assert rows["ood"]["mean"] == pytest.approx(((0.1 - 0.3) + (0.1 - 0.4)) / 2)
    paths = write_report(runs, [], str(tmp_path / "report"))
    table = Path(paths["paired.md"]).read_text()
    assert table.startswith("| task | difference | difference in return mean")
    assert "| 10.000 ± 5.000 [-53.531, 73.531] |" in table


def test_learning_curves_of_the_mean_and_the_cvar(tmp_path):
    pytest.importorskip("matplotlib")
    from ramac.experiments.figures import write_figures
    from ramac.experiments.summaries import evaluation_cvar

    # an evaluation's CVaR₀.₁: of its episodes where kept (the worst of 10), else the value it logged
    assert evaluation_cvar({"returns": [3.0, -1.0] + [5.0] * 8, "return_cvar_0.1": 99.0}) == -1.0
    assert evaluation_cvar({"return_mean": 4.0, "return_cvar_0.1": 2.5}) == 2.5
    for seed in (0, 1):
        make_run(tmp_path, "bc", seed, [4.0, -2.0, 6.0], 0.05)
        folder = tmp_path / "hopper-medium-expert" / "bc" / "default" / f"seed{seed}"
        content = json.loads((folder / "eval.json").read_text())
        content["history"].insert(0, {"iteration": 1000.0, "return_mean": 1.0, "return_cvar_0.1": -3.0})
        (folder / "eval.json").write_text(json.dumps(content))
    runs, _ = find_runs([str(tmp_path)])
    figures = write_figures(runs, table_rows(runs), str(tmp_path / "report"))
    assert Path(figures["curves_hopper-medium-expert"]).stat().st_size > 0


def make_bandit_run(root, algo: str, seed: int, weight: float, rewards: list[float], shares: list[float],
                    grid: dict | None = None) -> None:
    folder = root / "bandit" / algo / ("default" if not grid else "grid") / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "cell.json").write_text(json.dumps({"task": "bandit", "algo": algo, "seed": seed,
                                                  "overrides": grid or {}}))
    (folder / "config.yaml").write_text(f"model:\n  init_args:\n    risk_weight: {weight}\n")
    content = {"iterations": 100, "rewards_learner": rewards, "offsets_learner": [[0.0, 0.0], [0.5, 0.5]],
               **{f"{k}_fraction_learner": v for k, v in zip(("safe", "ring", "between"), shares, strict=True)}}
    (folder / "bandit.json").write_text(json.dumps(content))
    (folder / "done.json").write_text("{}")


def test_bandit_shares_and_the_frontier_across_sweeps(tmp_path):
    pytest.importorskip("matplotlib")
    from ramac.experiments.figures import write_figures

    study, grid = tmp_path / "study", tmp_path / "grid"
    for seed, shares in enumerate(([0.9, 0.05, 0.05], [0.7, 0.1, 0.2])):
        make_bandit_run(study, "radac", seed, 0.5, [1.0, 2.0], shares)  # the default weight, no grid
        make_bandit_run(grid, "radac", seed, 2.0, [0.0, 4.0], shares, {"model.init_args.risk_weight": 2.0})
    make_bandit_run(study, "bc", 0, 0.0, [1.0], [0.5, 0.3, 0.2])  # one weight: no frontier of its own
    runs, problems = find_runs([str(study), str(grid)])
    assert not problems and {r.risk_weight for r in runs} == {0.5, 2.0, 0.0}
    rows = {(r["column"], r["metric"]): r for r in table_rows(runs)}
    assert rows[("radac", "share_safe")]["mean"] == pytest.approx(0.8)
    assert rows[("radac", "share_between")]["se"] == pytest.approx(0.075)  # sd 0.106 over two seeds, / √2
    assert ("radac", "cvar_first10") not in rows  # a bandit run has sampled actions, not episodes
    paths = write_report(runs, problems, str(tmp_path / "report"))
    table = Path(paths["bandit.md"]).read_text()
    assert "| bandit | radac | 0.800 ± 0.100 [-0.471, 2.071] |" in table and "reward CVaR₀.₁" in table
    figures = write_figures(runs, table_rows(runs), str(tmp_path / "report"))
    assert "frontier_bandit" in figures and Path(figures["frontier_bandit"]).is_file()
    only_study = write_figures(find_runs([str(study)])[0], table_rows(find_runs([str(study)])[0]),
                               str(tmp_path / "alone"))
    assert "frontier_bandit" not in only_study  # one weight per algorithm draws no frontier


def test_training_trace_across_a_resume_and_the_diagnostics_figure(tmp_path):
    pytest.importorskip("matplotlib")
    from ramac.experiments.figures import write_figures

    make_run(tmp_path, "radac", 0, [1.0] * 10, 0.2)
    folder = tmp_path / "hopper-medium-expert" / "radac" / "default" / "seed0"
    header = "epoch,step,train/actor/risk,train/critic/risk_at_data,train/actor/bc_loss\n"  # no z_mean: optional
    first = folder / "lightning_logs" / "version_0"
    first.mkdir(parents=True)
    # the first process logged to step 150, was stopped, and the resumed one re-ran from step 100
    first.joinpath("metrics.csv").write_text(header + "0,49,10,9,0.5\n0,99,20,11,0.4\n0,149,99,12,0.3\n0,150,,,0.3\n")
    second = folder / "lightning_logs" / "version_1"
    second.mkdir(parents=True)
    second.joinpath("metrics.csv").write_text(header + "0,149,30,13,0.3\n0,199,40,14,0.2\n")
    (run,), _ = find_runs([str(tmp_path)])
    assert run.trace == {"train/actor/risk": [(49, 10.0), (99, 20.0), (149, 30.0), (199, 40.0)],
                         "train/critic/risk_at_data": [(49, 9.0), (99, 11.0), (149, 13.0), (199, 14.0)]}
    figures = write_figures([run], table_rows([run]), str(tmp_path / "report"))
    assert Path(figures["diagnostics_hopper-medium-expert"]).is_file()


def test_an_unfinished_run_is_left_out_with_its_last_logged_evaluation(tmp_path):
    folder = tmp_path / "hopper-medium-expert" / "radac" / "default" / "seed0"
    logs = folder / "lightning_logs" / "version_0"
    logs.mkdir(parents=True)
    (folder / "cell.json").write_text(json.dumps({"task": "hopper-medium-expert", "algo": "radac", "seed": 0}))
    logs.joinpath("metrics.csv").write_text(
        "epoch,eval/ood_action_rate,eval/return_cvar_0.1,eval/return_mean,step,train/actor/risk\n"
        "0,,,,49,10\n0,0.25,-3.5,12.125,100,\n0,,,,149,11\n0,0.0625,7.5,20.5,200,\n0,,,,249,12\n")
    runs, problems = find_runs([str(tmp_path)])
    assert runs == [] and len(problems) == 1
    assert problems[0][1].endswith("the run has not finished (last evaluation in metrics.csv: iteration 200, "
                                   "return mean 20.50, CVaR₀.₁ 7.50, OOD rate 0.062)")


def _log_data_checksum(folder: Path, sha256: str, version: int = 0) -> None:
    logs = folder / "lightning_logs" / f"version_{version}"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "hparams.yaml").write_text(f"data:\n  source: auto\n  sha256: {sha256}\nseed: 0\n")


def test_runs_on_different_data_are_refused_and_the_checksum_is_stated(runs_root):
    folders = sorted(runs_root.glob("hopper-medium-expert/*/default/seed*"))
    for folder in folders:
        _log_data_checksum(folder, "a" * 64)
    runs, _ = find_runs([str(runs_root)])
    paths = write_report(runs, [], str(runs_root / "report"))
    assert "data sha256 aaaaaaaaaaaa…" in Path(paths["report.md"]).read_text()
    _log_data_checksum(folders[0], "b" * 64)  # one run remade its data elsewhere
    runs, _ = find_runs([str(runs_root)])
    with pytest.raises(ReportError, match=rf"trained on different data .*bbbbbbbbbbbb in 1 runs, aaaaaaaaaaaa in 4 "
                                          rf"runs; e\.g\. {folders[0]}\)"):
        table_rows(runs)
    _log_data_checksum(folders[0], "a" * 64, version=1)  # and was resumed on the first data: its versions disagree
    runs, problems = find_runs([str(runs_root)])  # that run is left out, with the reason
    assert len(runs) == 4 and problems == [(str(folders[0]), f"{folders[0]}: its Lightning versions trained on "
                                            f"different data (sha256 {['a' * 64, 'b' * 64]})")]


def test_selection_rules_against_hand_computation():
    from ramac.experiments.selection import choose

    history = [{"iteration": 1000, "returns": [10, 10, 10, 10]},  # mean 10, CVaR 10
               {"iteration": 2000, "returns": [30, 30, 30, -50]},  # mean 10 (tie with the first), CVaR -50
               {"iteration": 3000, "returns": [40, 20, 0, 0]},  # mean 15, CVaR 0
               {"iteration": 4000, "returns": [12, 12, 12, 12]}]  # mean 12, CVaR 12
    bc = [(900, 5.0), (1000, 3.0), (1950, 1.0), (2000, 2.0), (3000, 4.0)]  # 4000: no row in (3000, 4000]
    choices = choose(history, bc)
    assert (choices["last"].iteration, choices["last"].reported_mean) == (4000, 12.0)
    assert (choices["best_return"].iteration, choices["best_return"].reported_cvar) == (3000, 0.0)
    assert (choices["best_cvar"].iteration, choices["best_cvar"].reported_mean) == (4000, 12.0)
    assert (choices["lowest_bc_loss"].iteration, choices["lowest_bc_loss"].criterion) == (2000, 1.5)
    first_two = choose(history, None, selection_episodes=2)  # the first two episodes only
    # means 10, 30, 30, 12: the tie at 30 goes to 2000; CVaR₀.₁ of two episodes is the worse one: 10, 30, 20, 12
    assert first_two["best_return"].iteration == 2000 and first_two["best_return"].reported_mean == 30.0
    assert first_two["best_cvar"].iteration == 2000 and first_two["best_cvar"].reported_cvar == 30.0
    assert "lowest_bc_loss" not in first_two
    tie = choose([{"iteration": 1, "returns": [5.0]}, {"iteration": 2, "returns": [5.0]}])
    assert tie["best_return"].iteration == 1  # ties go to the earliest evaluation


def test_the_selection_table_reports_each_rule_its_re_evaluation_and_the_gap(runs_root):
    from ramac.experiments.selection import Choice, write_selection
    from ramac.experiments.summaries import selection_rows

    picks = {0: (3000, 50.0, 20.0, 40.0, 10.0), 1: (2000, 60.0, 30.0, 44.0, 18.0)}  # it, rep mean/cvar, re mean/cvar
    for seed, (iteration, mean, cvar, again_mean, again_cvar) in picks.items():
        folder = runs_root / "hopper-medium-expert" / "radac" / "default" / f"seed{seed}"
        choices = {"best_return": Choice("best_return", iteration, mean, cvar, mean),
                   "last": Choice("last", 5000, 30.0, 5.0, 30.0)}
        write_selection(str(folder), choices, {iteration: {"mean": again_mean, "cvar": again_cvar},
                                               5000: {"mean": 31.0, "cvar": 4.0}}, {"episodes": 100})
    runs, _ = find_runs([str(runs_root)])
    rows = {(r["column"], r["metric"]): r for r in selection_rows(runs)}
    assert {column for column, _ in rows} == {"radac · last", "radac · best_return"}  # bc has no selection.json
    gap = rows[("radac · best_return", "gap_mean")]
    assert gap["seeds"] == 2 and gap["mean"] == pytest.approx(13.0)  # (10 + 16) / 2
    assert gap["se"] == pytest.approx(np.std([10.0, 16.0], ddof=1) / math.sqrt(2))
    assert rows[("radac · best_return", "iteration")]["mean"] == 2500.0
    assert rows[("radac · best_return", "gap_cvar")]["mean"] == pytest.approx(11.0)  # (10 + 12) / 2
    assert rows[("radac · last", "gap_mean")]["mean"] == pytest.approx(-1.0)
    paths = write_report(runs, [], str(runs_root / "report"))
    text = Path(paths["selection.md"]).read_text()
    assert "radac · best_return" in text and "13.0 ± 3.0" in text
    assert "Checkpoint selection" in Path(paths["report.md"]).read_text()


def test_the_online_table_against_hand_computation(tmp_path):
    """Two seeds with an online phase from iteration 100 (2 environment steps per iteration): the penalties, the dip
    and the penalties paid until the evaluation CVaR₀.₁ reaches the start's and a given level."""
    from ramac.experiments.figures import write_figures
    from ramac.experiments.summaries import online_rows

    # evaluations (iteration: every episode's return, CVaR₀.₁ = the worst of < 10)
    histories = {0: {100: [50, 40], 110: [30, 45], 120: [60, 55], 130: [70, 80]},  # start 40, dip to 30, back at 120
                 1: {100: [20, 25], 110: [10, 30], 120: [15, 40], 130: [18, 22]}}  # start 20, never back
    penalties = {0: [0, 1, 0, 0, 1, 0, 1, 0], 1: [1, 1, 0, 0, 0, 0, 0, 1]}  # steps of iterations 100..103 (2 each)
    for seed in (0, 1):
        make_run(tmp_path, "radac", seed, histories[seed][130], ood=0.1)
        folder = tmp_path / "hopper-medium-expert" / "radac" / "default" / f"seed{seed}"
        content = json.loads((folder / "eval.json").read_text())
        content["history"] = [{"iteration": float(it), "return_mean": float(np.mean(r)), "returns": r}
                              for it, r in histories[seed].items()]
        (folder / "eval.json").write_text(json.dumps(content))
        (folder / "online.json").write_text(json.dumps(
            {"options": {"envs": 2, "env_steps_per_update": 1}, "start_iteration": 100, "episodes": []}))
        steps = [f"{100 + j // 2},{j % 2},0,1.0,{p},{int(j < 2)},{int(j == 5)},0"  # the first 2 steps risky
                 for j, p in enumerate(penalties[seed])]
        # iterations 104..129 took steps too, without penalties
        steps += [f"{it},{e},0,1.0,0,0,0,0" for it in range(104, 130) for e in (0, 1)]
        (folder / "online_steps.csv").write_text(
            "iteration,env,episode,reward,penalty,risky,terminated,truncated\n" + "\n".join(steps) + "\n")
    runs, problems = find_runs([str(tmp_path)])
    assert not problems
    rows = {r["metric"]: r for r in online_rows(runs, cvar_targets=(50.0, 100.0))}
    assert rows["env_steps"]["mean"] == 60  # (130 − 100) iterations × 2 steps
    assert rows["penalties"]["mean"] == 3.0  # 3 and 3
    assert rows["terminations"]["mean"] == 1.0
    assert rows["risky_steps"]["mean"] == 2.0  # the first two steps of each seed
    assert rows["start_cvar"]["mean"] == 30.0  # 40 and 20
    assert rows["dip_cvar"]["mean"] == pytest.approx(((30 - 40) + (10 - 20)) / 2)
    assert rows["final_cvar"]["mean"] == 44.0  # 70 and 18
    # seed 0 gets back to 40 at iteration 120: the steps of iterations 100..119 paid 3; seed 1 never does
    assert rows["reached_start"]["mean"] == 1.0 and rows["penalties_to_start"]["mean"] == 3.0
    assert rows["penalties_to_start"]["seeds"] == 1
    # CVaR ≥ 50: seed 0 at iteration 120 (3 penalties before it); ≥ 100: nobody
    assert rows["reached_50"]["mean"] == 1.0 and rows["penalties_to_50"]["mean"] == 3.0
    assert rows["reached_100"]["mean"] == 0.0 and "penalties_to_100" not in rows
    paths = write_report(runs, problems, str(tmp_path / "report"), cvar_targets=(50.0,))
    assert "Online phase" in Path(paths["report.md"]).read_text()
    assert "penalties paid until CVaR₀.₁ ≥ 50" in Path(paths["online.md"]).read_text()
    figures = write_figures(runs, table_rows(runs), str(tmp_path / "report"))
    assert Path(figures["online_hopper-medium-expert"]).stat().st_size > 5000
    # runs that do not evaluate during the phase (the bandit) get no evaluation panel: two panels, not three
    import matplotlib.pyplot as plt

    with_evaluation = plt.imread(figures["online_hopper-medium-expert"]).shape[1]
    for seed in (0, 1):
        folder = tmp_path / "hopper-medium-expert" / "radac" / "default" / f"seed{seed}"
        content = json.loads((folder / "eval.json").read_text())
        content["history"] = content["history"][-1:]  # the last evaluation only, as the bandit's report has
        (folder / "online.json").write_text(json.dumps(
            {"options": {"envs": 2, "env_steps_per_update": 1}, "start_iteration": 140, "episodes": []}))
        (folder / "eval.json").write_text(json.dumps(content))
    runs, _ = find_runs([str(tmp_path)])
    figures = write_figures(runs, table_rows(runs), str(tmp_path / "report-without-evaluation"))
    without_evaluation = plt.imread(figures["online_hopper-medium-expert"]).shape[1]
    assert without_evaluation == pytest.approx(with_evaluation * 2 / 3, rel=0.02)
