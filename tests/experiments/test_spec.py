"""Sweep files: cells and folders, and one-line errors that name the key."""

from __future__ import annotations

import os

import pytest

from ramac.experiments.spec import SweepError, load_sweep, members_folder

CONF = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "conf")


def write(tmp_path, text: str) -> str:
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return str(path)


def test_cells_cover_the_product_in_deterministic_folders(tmp_path):
    path = write(tmp_path, f"""
name: demo
root: {tmp_path / 'runs'}
tasks: [bandit, hopper-medium-expert]
algos: [radac, bc]
seeds: [3, 5]
grid:
  model.init_args.risk_weight: [0.1, 0.5]
set:
  trainer.max_steps: 10
evaluation: {{episodes: 20, every_n_iterations: 5000, ood_max_actions: 4000}}
resources: {{cpus_per_run: 2, gpus_per_run: 0.25}}
""")
    sweep = load_sweep(path, CONF)
    cells = sweep.cells()
    assert len(cells) == 2 * 2 * 2 * 2
    assert len({c.folder for c in cells}) == len(cells)
    assert [c.seed for c in cells] == [3] * 8 + [5] * 8  # seed-major: a cut-short sweep covers every column
    first = cells[0]
    assert first.folder == os.path.join(str(tmp_path / "runs"), "demo", "bandit", "radac", "risk_weight=0.1", "seed3")
    args = first.fit_args("conf", sweep.fixed)
    assert args[:8] == ["--algo", "radac", "--task", "bandit", "--conf_dir", "conf", "--seed_everything", "3"]
    assert args[args.index("--model.init_args.risk_weight") + 1] == "0.1"
    assert args[args.index("--trainer.max_steps") + 1] == "10"
    assert sweep.episodes == 20 and sweep.every_n_iterations == 5000 and sweep.ood_max_actions == 4000
    assert sweep.cpus_per_run == 2.0 and sweep.gpus_per_run == 0.25
    assert load_sweep(path, CONF).cells() == cells  # the same file, the same cells
    default = write(tmp_path, "name: d\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\n")
    assert load_sweep(default, CONF).episodes == 50  # a stable CVaR₀.₁ by default, not the paper's 10
    none = write(tmp_path, "name: d\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nevaluation: {episodes: null}\n")
    assert load_sweep(none, CONF).episodes is None


@pytest.mark.parametrize(("text", "message"), [
    ("tasks: [bandit]\nalgos: [bc]\nseeds: 1\n", "'name' is missing"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nepisodes: 3\n", r"unknown key\(s\) \['episodes'\]"),
    ("name: x\ntasks: [nope]\nalgos: [bc]\nseeds: 1\n", "'tasks' names 'nope', which has no"),
    ("name: x\ntasks: [bandit]\nalgos: [bc, bc]\nseeds: 1\n", "'algos' lists a name twice"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 0\n", "'seeds' as a count must be >= 1"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nalgo_set: {radac: {trainer.max_steps: 5}}\n",
     "'algo_set' names 'radac', which is not in 'algos'"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nalgo_set: {bc: 3}\n", "'algo_set.bc' must map config keys"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\ngrid: {trainer.max_steps: [1, 2]}\n"
     "algo_set: {bc: {trainer.max_steps: 5}}\n", r"in both 'grid' and 'algo_set.bc'"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: [1, 1]\n", "'seeds' must be a count or a list of distinct"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\ngrid: {model.init_args.risk_weight: 0.1}\n",
     r"'grid.model.init_args.risk_weight' must be a non-empty list"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nset: {seed_everything: 3}\n", "set by the sweep itself"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nevaluation: {episodes: 0}\n",
     r"'evaluation.episodes' must be an integer >= 1"),
    ("name: x\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\nresources: {cpus_per_run: 0}\n",
     r"'resources.cpus_per_run' must be a number > 0"),
    ("name: a/b\ntasks: [bandit]\nalgos: [bc]\nseeds: 1\n", "'name' must be a plain folder name"),
    ("name: [x\n", "not valid YAML"),
])
def test_bad_sweep_files_get_one_line_errors_naming_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(SweepError, match=message) as error:
        load_sweep(path, CONF)
    assert str(error.value).startswith(path) and "\n" not in str(error.value)


def test_a_missing_sweep_file_is_named(tmp_path):
    with pytest.raises(SweepError, match=r"nope\.yaml: cannot read the sweep file"):
        load_sweep(str(tmp_path / "nope.yaml"), CONF)


@pytest.mark.parametrize("name", sorted(os.listdir(os.path.join(CONF, "sweeps"))))
def test_the_shipped_sweep_files_load(name):
    sweep = load_sweep(os.path.join(CONF, "sweeps", name), CONF)
    assert sweep.cells()


def test_members_per_run_groups_the_seeds_of_each_cell(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("name: m\ntasks: [bandit]\nalgos: [bc, radac]\nseeds: 5\nresources:\n  members_per_run: 2\n")
    sweep = load_sweep(str(path), CONF)
    groups = [[(c.algo, c.seed) for c in group] for group in sweep.groups(sweep.cells())]
    assert groups == [[("bc", 0), ("bc", 1)], [("radac", 0), ("radac", 1)], [("bc", 2), ("bc", 3)],
                      [("radac", 2), ("radac", 3)], [("bc", 4)], [("radac", 4)]]
    assert members_folder(sweep.groups(sweep.cells())[0]).endswith("bc/default/members-seed0-seed1")
    path.write_text("name: m\ntasks: [bandit]\nalgos: [bc]\nseeds: 2\nresources:\n  members_per_run: 0\n")
    with pytest.raises(SweepError, match="members_per_run"):
        load_sweep(str(path), CONF)


def test_grid_keys_tied_by_plus_vary_together(tmp_path):
    path = tmp_path / "tied.yaml"
    path.write_text("name: t\ntasks: [bandit]\nalgos: [radac]\nseeds: 1\ngrid:\n"
                    "  model.init_args.normalize_risk+model.init_args.risk_weight: [[false, 0.05], [true, 1.0]]\n"
                    "  model.init_args.target_clip: [[-30, 30], [-300, 300]]\nresources:\n  members_per_run: 2\n")
    sweep = load_sweep(str(path), CONF)
    cells = sweep.cells()
    assert [c.overrides for c in cells] == [
        (("model.init_args.normalize_risk", False), ("model.init_args.risk_weight", 0.05),
         ("model.init_args.target_clip", [-30, 30])),
        (("model.init_args.normalize_risk", False), ("model.init_args.risk_weight", 0.05),
         ("model.init_args.target_clip", [-300, 300])),
        (("model.init_args.normalize_risk", True), ("model.init_args.risk_weight", 1.0),
         ("model.init_args.target_clip", [-30, 30])),
        (("model.init_args.normalize_risk", True), ("model.init_args.risk_weight", 1.0),
         ("model.init_args.target_clip", [-300, 300]))]
    assert cells[0].folder.endswith("normalize_risk=False,risk_weight=0.05,target_clip=-30_30/seed0")
    assert cells[0].fit_args(CONF, {})[-4:] == ["--model.init_args.risk_weight", "0.05",
                                                 "--model.init_args.target_clip", "[-30, 30]"]
    assert len(sweep.groups(cells)) == 4
    for body, message in (("[[false], [true]]", "ties 2 keys"), ("[[false, 0.1]]\n  model.init_args.risk_weight: [1]",
                                                                  "appears twice")):
        path.write_text("name: t\ntasks: [bandit]\nalgos: [radac]\nseeds: 1\ngrid:\n"
                        f"  model.init_args.normalize_risk+model.init_args.risk_weight: {body}\n")
        with pytest.raises(SweepError, match=message):
            load_sweep(str(path), CONF)


def test_algo_set_reaches_only_its_algorithms_cells_and_wins_over_set(tmp_path):
    path = write(tmp_path, "name: d\ntasks: [bandit]\nalgos: [radac, bc]\nseeds: 1\n"
                           "set: {trainer.max_steps: 100}\n"
                           "algo_set: {radac: {trainer.max_steps: 50, model.init_args.diffusion_steps: 10}}\n")
    sweep = load_sweep(path, CONF)
    radac, bc = sweep.cells()
    radac_args, bc_args = radac.fit_args(CONF, sweep.fixed), bc.fit_args(CONF, sweep.fixed)
    assert radac_args.count("--trainer.max_steps") == 1
    assert radac_args[radac_args.index("--trainer.max_steps") + 1] == "50"
    assert radac_args[radac_args.index("--model.init_args.diffusion_steps") + 1] == "10"
    assert bc_args[bc_args.index("--trainer.max_steps") + 1] == "100"
    assert "--model.init_args.diffusion_steps" not in bc_args
    assert radac.folder.endswith(os.path.join("radac", "default", "seed0"))  # not part of the folder name


def test_only_selects_cells_by_task_algo_seed_and_grid_value_in_sweep_order(tmp_path):
    sweep = load_sweep(write(tmp_path, "name: s\ntasks: [bandit]\nalgos: [radac, bc]\nseeds: 3\n"
                                       "grid: {model.init_args.quantile_pairing: [standard, released]}\n"), CONF)
    cells = sweep.cells()
    labels = [c.label for c in sweep.select(cells, ["algo=radac", "quantile_pairing=released", "seed=2,0"])]
    assert labels == ["bandit/radac/model.init_args.quantile_pairing=released/seed0",
                      "bandit/radac/model.init_args.quantile_pairing=released/seed2"]
    full_key = sweep.select(cells, ["model.init_args.quantile_pairing=standard"])
    assert [c.folder for c in full_key] == [c.folder for c in cells if "standard" in c.folder]
    assert len(sweep.select(cells, ["task=bandit"])) == len(cells) == 12


@pytest.mark.parametrize(("filters", "message"), [
    (["algo"], r"--only 'algo': expected KEY=VALUE"),
    (["=bc"], r"--only '=bc': expected KEY=VALUE"),
    (["risk_weight=1"], r"--only 'risk_weight=1': unknown key 'risk_weight'; expected one of \['algo', "),
    (["algo=cql"], r"--only algo=cql: matches none of the 2 cells of sweep 's'"),
])
def test_bad_only_filters_get_one_line_errors(tmp_path, filters, message):
    sweep = load_sweep(write(tmp_path, "name: s\ntasks: [bandit]\nalgos: [bc]\nseeds: 2\n"), CONF)
    with pytest.raises(SweepError, match=message) as error:
        sweep.select(sweep.cells(), filters)
    assert "\n" not in str(error.value)
