"""``ramac sweep`` on an embedded Ray: a tiny 8-run sweep, its resumption, a failing cell, and a 4-run sweep killed
with SIGKILL while runs are in flight, restarted, and ending with the results of one never stopped."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ramac.experiments.engine import compose_config, run_sweep
from ramac.experiments.spec import load_sweep

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(REPO, "conf")


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    yield
    ray.shutdown()


def kill_session(session: int) -> None:
    """SIGKILL every process of one session (Linux ``/proc``) until none is left alive: the sweep's driver, the Ray
    daemons it started (its process group) and Ray's workers (their own groups, the same session). Not ``ray stop``,
    which would also stop any other Ray on the machine, e.g. a study running beside the tests."""
    for _ in range(100):
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, session
            except OSError:
                continue
            if int(fields[3]) == session and fields[0] != "Z":
                alive.append(int(stat.parent.name))
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
    raise RuntimeError(f"processes of session {session} survived SIGKILL")


def sweep_file(tmp_path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"name: {name}\nroot: {tmp_path / 'runs'}\ntasks: [bandit]\n{body}")
    return str(path)


def results(sweep) -> dict[str, dict]:
    out = {}
    for cell in sweep.cells():
        with open(os.path.join(cell.folder, "bandit.json")) as handle:
            out[os.path.relpath(cell.folder, sweep.folder)] = json.load(handle)
    return out


def test_the_evaluation_protocol_reaches_the_composed_config(tmp_path):
    path = tmp_path / "protocol.yaml"
    path.write_text(f"name: protocol\nroot: {tmp_path}\ntasks: [hopper-medium-expert]\nalgos: [bc]\nseeds: 1\n"
                    "evaluation: {episodes: 20, every_n_iterations: 5000, ood_max_actions: 300}\n")
    sweep = load_sweep(str(path), CONF)
    config = compose_config(sweep.cells()[0], sweep, CONF, sys.executable, dict(os.environ))
    evaluation = [c for c in config["trainer"]["callbacks"] if c["class_path"].endswith("RolloutEvaluation")]
    assert evaluation[0]["init_args"]["episodes"] == 20 and evaluation[0]["init_args"]["every_n_iterations"] == 5000
    assert evaluation[0]["init_args"]["ood_max_actions"] == 300
    assert config["seed_everything"] == 0 and config["trainer"]["default_root_dir"] == sweep.cells()[0].folder


TINY = """algos: [bc, fql]
seeds: 2
grid:
  data.init_args.batch_size: [32, 64]
set:
  trainer.max_steps: 30
  trainer.log_every_n_steps: 10
  data.init_args.dataset_size: 512
"""


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory, ray_session):
    sweep = load_sweep(sweep_file(tmp_path_factory.mktemp("sweep"), "tiny", TINY), CONF)
    return sweep, run_sweep(sweep, CONF, num_cpus=2)


def test_a_tiny_sweep_runs_every_cell_and_a_rerun_skips_them(tiny_sweep):
    sweep, outcomes = tiny_sweep
    assert [o.status for o in outcomes] == ["done"] * 8, [o.log_tail for o in outcomes]
    first = results(sweep)
    assert len(first) == 8 and len({json.dumps(r["rewards_learner"]) for r in first.values()}) == 8
    for cell in sweep.cells():
        composed = Path(cell.folder, "config.yaml").read_text()
        assert f"batch_size: {dict(cell.overrides)['data.init_args.batch_size']}" in composed
    again = run_sweep(sweep, CONF, num_cpus=2)
    assert [o.status for o in again] == ["skipped"] * 8
    assert results(sweep) == first


def test_a_serial_sweep_runs_its_cells_without_ray_and_a_rerun_skips_them(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails: the serial path must not need it
    sweep = load_sweep(sweep_file(tmp_path, "serial", """algos: [bc]
seeds: 2
set:
  trainer.max_steps: 10
  data.init_args.dataset_size: 256
"""), CONF)
    seen = []
    outcomes = run_sweep(sweep, CONF, serial=True, on_update=lambda states, _: seen.append(dict(states)))
    assert [o.status for o in outcomes] == ["done", "done"], [o.log_tail for o in outcomes]
    assert seen[0] == {cell.label: None for cell in sweep.cells()}  # queued, then one finished at a time
    assert [sum(v is not None for v in states.values()) for states in seen] == [0, 1, 2]
    assert len(results(sweep)) == 2
    assert [o.status for o in run_sweep(sweep, CONF, serial=True)] == ["skipped", "skipped"]


def test_a_sweep_run_with_only_runs_its_selection_in_the_full_sweeps_folders(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "subset", "algos: [bc]\nseeds: 2\nset:\n  trainer.max_steps: 10\n"
                                  "  data.init_args.dataset_size: 256\n"), CONF)
    chosen = sweep.select(sweep.cells(), ["seed=1"])
    outcomes = run_sweep(sweep, CONF, serial=True, cells=chosen)
    assert [(o.label, o.status) for o in outcomes] == [(chosen[0].label, "done")]
    assert [os.path.isfile(os.path.join(c.folder, "done.json")) for c in sweep.cells()] == [False, True]
    rest = run_sweep(sweep, CONF, serial=True)  # the full sweep skips the cell --only ran
    assert [o.status for o in rest] == ["done", "skipped"]


def test_a_cell_another_process_runs_is_left_to_it(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "twice", "algos: [bc]\nseeds: [0]\nset:\n  trainer.max_steps: 10\n"), CONF)
    cell = sweep.cells()[0]
    os.makedirs(cell.folder)
    with open(os.path.join(cell.folder, "running.lock"), "a") as held:  # another sweep, mid-run
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        (outcome,) = run_sweep(sweep, CONF, serial=True)
    assert outcome.status == "busy" and "running.lock" in outcome.log_tail
    assert not os.path.exists(os.path.join(cell.folder, "run.log"))  # nothing started, nothing written
    Path(cell.folder, "done.json").write_text("{}")  # the lock is free again: the cell is judged as usual
    assert [o.status for o in run_sweep(sweep, CONF, serial=True)] == ["skipped"]


def test_a_failing_run_is_reported_and_does_not_stop_the_others(tmp_path, ray_session):
    sweep = load_sweep(sweep_file(tmp_path, "broken", """algos: [bc]
seeds: [0]
grid:
  model.init_args.actor_lr: [0.001, -1.0]
set:
  trainer.max_steps: 10
  data.init_args.dataset_size: 256
"""), CONF)
    good, bad = run_sweep(sweep, CONF, num_cpus=2)
    assert good.status == "done" and bad.status == "failed"
    assert "actor_lr must be > 0" in bad.log_tail
    assert not os.path.exists(os.path.join(bad.folder, "done.json"))


@pytest.mark.parametrize("notebook", ["sweep_report.ipynb", "inspect_run.ipynb", "results.ipynb"])
def test_the_notebooks_run_on_the_tiny_sweep(tiny_sweep, notebook, tmp_path, monkeypatch):
    """The notebooks rebuild the figures from run folders; executed here so that they cannot rot."""
    nbclient, nbformat = pytest.importorskip("nbclient"), pytest.importorskip("nbformat")
    sweep, _ = tiny_sweep
    monkeypatch.setenv("RAMAC_RUNS", sweep.folder)
    monkeypatch.setenv("RAMAC_RUN", sweep.cells()[0].folder)
    monkeypatch.setenv("RAMAC_REPORT_OUT", str(tmp_path))
    # results.ipynb reads results/sweeps/<name>: the tiny sweep stands in for the bandit study
    (tmp_path / "results" / "sweeps").mkdir(parents=True)
    (tmp_path / "results" / "sweeps" / "bandit-study").symlink_to(sweep.folder)
    monkeypatch.setenv("RAMAC_REPO", str(tmp_path))
    book = nbformat.read(os.path.join(REPO, "notebooks", notebook), as_version=4)
    nbclient.NotebookClient(book, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    if notebook == "sweep_report.ipynb":
        assert {p.name for p in (tmp_path / "figures").iterdir()} == {"bars_bandit.png", "grid_bandit.png"}
    if notebook == "results.ipynb":
        bandit = tmp_path / "results" / "reports" / "bandit"
        assert {p.name for p in (bandit / "figures").iterdir()} == {"bars_bandit.png", "grid_bandit.png"}
        assert "share in the safe centre" in (bandit / "report.md").read_text()
        assert not (tmp_path / "results" / "reports" / "hopper").exists()  # not run: skipped
    assert any(output.get("output_type") == "stream" or "data" in output
               for cell in book.cells if cell.cell_type == "code" for output in cell.outputs)


@pytest.mark.slow
def test_a_sweep_with_members_writes_the_folders_and_report_of_the_same_sweep_run_solo(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    from ramac.experiments.report import write_report
    from ramac.experiments.runs import find_runs

    body = """algos: [radac]
seeds: 2
set:
  trainer.max_steps: 12
  data.init_args.dataset_size: 256
"""
    solo = load_sweep(sweep_file(tmp_path, "solo", body), CONF)
    packed = load_sweep(sweep_file(tmp_path, "packed", body + "resources:\n  members_per_run: 2\n"), CONF)
    assert [[c.seed for c in group] for group in packed.groups(packed.cells())] == [[0, 1]]
    assert [o.status for o in run_sweep(solo, CONF, serial=True)] == ["done"] * 2
    outcomes = run_sweep(packed, CONF, serial=True)
    assert [o.status for o in outcomes] == ["done"] * 2, [o.log_tail for o in outcomes]
    assert results(packed) == results(solo)
    members_folder = os.path.join(packed.folder, "bandit", "radac", "default", "members-seed0-seed1")
    assert os.path.isfile(os.path.join(members_folder, "checkpoints", "last.ckpt"))
    for cell in packed.cells():
        names = {"cell.json", "config.yaml", "done.json", "bandit.json", "run.log"}
        assert names <= set(os.listdir(cell.folder)), cell.folder
        assert os.path.isfile(os.path.join(cell.folder, "checkpoints", "last.ckpt"))
    tables = {}
    for sweep in (solo, packed):
        runs, problems = find_runs([sweep.folder])
        assert len(runs) == 2 and not problems
        out = tmp_path / f"report-{sweep.name}"
        write_report(runs, problems, str(out))
        tables[sweep.name] = {p.name: p.read_text() for p in sorted(out.rglob("*.csv"))}
    assert tables["solo"] and tables["solo"] == tables["packed"]
    assert [o.status for o in run_sweep(packed, CONF, serial=True)] == ["skipped"] * 2


def test_a_sweep_killed_midway_and_rerun_ends_as_an_uninterrupted_one(tmp_path):
    body = """algos: [bc, oraac]
seeds: 1
grid:
  data.init_args.batch_size: [32, 64]
set:
  trainer.max_steps: 200
  checkpoint.every_n_train_steps: 20
  data.init_args.dataset_size: 1024
"""
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    command = [sys.executable, "-m", "ramac", "sweep", "--conf_dir", CONF, "--num_cpus", "2"]
    straight = sweep_file(tmp_path, "straight", body)
    subprocess.run([*command, straight], check=True, env=env, capture_output=True, timeout=1200)
    killed = sweep_file(tmp_path, "killed", body)
    sweep = load_sweep(killed, CONF)
    process = subprocess.Popen([*command, killed], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline:  # stop once two runs have checkpoints and are still running
        running = [c for c in sweep.cells() if os.path.exists(os.path.join(c.folder, "checkpoints", "last.ckpt"))
                   and not os.path.exists(os.path.join(c.folder, "done.json"))]
        if len(running) >= 2:
            break
        time.sleep(0.5)
    kill_session(process.pid)  # a new session: its id is the driver's pid
    process.wait()
    assert len(running) >= 2
    assert not all(os.path.exists(os.path.join(c.folder, "done.json")) for c in sweep.cells())
    subprocess.run([*command, killed], check=True, env=env, capture_output=True, timeout=1200)
    assert results(sweep) == results(load_sweep(straight, CONF))
