"""Running a sweep on Ray: each cell is its own ``ramac fit`` process inside a Ray task.

Locally ``ray.init()`` starts an embedded Ray bounded by the machine (no set-up); with ``address`` the same tasks go
to an existing cluster (README "Sweeps"; the cells' folders must then be on a file system every node sees). A task
asks for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs, so Ray runs as many cells at once as the resources allow
and a fractional GPU packs several small runs on one device.

What a cell's folder holds: ``config.yaml`` (the composed configuration, written once: ``ramac fit --config
config.yaml`` reruns the cell by hand), ``cell.json`` (task, algorithm, seed, grid values), ``run.log`` (the
process's output), ``checkpoints/last.ckpt`` and the run's result (``eval.json`` or ``bandit.json``), and
``done.json`` once the run has finished. With ``resources.members_per_run`` the seeds of a cell are trained together
(:func:`run_members`); their folders hold the same files. Rerunning the sweep skips cells with ``done.json``, resumes
cells with a ``last.ckpt`` exactly (``--ckpt_path last``) and starts the others; a failed cell is reported with the
tail of its log and does not stop the others.
"""

from __future__ import annotations

import csv
import fcntl
import glob
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from ramac.experiments.spec import Cell, Sweep, members_folder

RESULT_FILES = ("eval.json", "bandit.json")
LOG_TAIL_LINES = 15


@dataclass
class CellOutcome:
    label: str
    folder: str
    status: str  # done | skipped | failed | busy (run by another process)
    seconds: float = 0.0
    log_tail: str = ""


def write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: a crash leaves the old file or none."""
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return "(no log)"


def compose_config(cell: Cell, sweep: Sweep, conf_dir: str, python: str, env: dict[str, str]) -> dict[str, Any]:
    """The cell's full configuration (``ramac fit ... --print_config``) with the sweep's evaluation protocol."""
    done = subprocess.run([python, "-m", "ramac", "fit", *cell.fit_args(conf_dir, sweep.fixed), "--print_config"],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"composing {cell.label} failed:\n{done.stderr[-3000:]}")
    config = yaml.safe_load(done.stdout)
    for callback in (config.get("trainer") or {}).get("callbacks") or []:
        if isinstance(callback, dict) and callback.get("class_path", "").endswith("RolloutEvaluation"):
            arguments = callback.setdefault("init_args", {})
            if sweep.episodes is not None:
                arguments["episodes"] = sweep.episodes
            if sweep.horizon is not None:
                arguments["horizon"] = sweep.horizon
            if sweep.every_n_iterations is not None:
                arguments["every_n_iterations"] = sweep.every_n_iterations
            if sweep.ood_max_actions is not None:
                arguments["ood_max_actions"] = sweep.ood_max_actions
            if sweep.keep_checkpoints:
                arguments["keep_checkpoints"] = True
    return config


def prepare_cell(cell: Cell, sweep: Sweep, conf_dir: str, python: str, env: dict[str, str]) -> str:
    """Write the cell's ``cell.json`` and composed ``config.yaml`` (once); returns the config's path."""
    config_path = os.path.join(cell.folder, "config.yaml")
    if not os.path.isfile(config_path):
        config = compose_config(cell, sweep, conf_dir, python, env)
        write_atomic(os.path.join(cell.folder, "cell.json"), json.dumps(
            {"sweep": sweep.name, "task": cell.task, "algo": cell.algo, "seed": cell.seed,
             "overrides": dict(cell.overrides), "episodes": sweep.episodes, "horizon": sweep.horizon,
             "every_n_iterations": sweep.every_n_iterations}, indent=1))
        write_atomic(config_path, yaml.safe_dump(config, sort_keys=False))
    return config_path


def _lock(folder: str) -> Any | None:
    """``folder``'s ``running.lock``, held (``flock``), or ``None`` when another process holds it."""
    lock = open(os.path.join(folder, "running.lock"), "a")  # noqa: SIM115 (held until the run ends)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        return None
    return lock


def _fit_process(folder: str, config_path: str, python: str, env: dict[str, str], locks: list[Any]) -> int:
    """Run ``ramac fit --config config_path`` for the run folder ``folder`` and wait for it; returns its exit code.
    It resumes exactly (``--ckpt_path last``) when ``folder`` holds ``checkpoints/last.ckpt``, appends its output to
    ``folder``'s ``run.log`` after a dated start/resume line, and is passed the held ``locks``: the run holds them
    too, so a folder stays locked while its run goes on after a killed sweep, and no longer."""
    resume = ["--ckpt_path", "last"] if os.path.isfile(os.path.join(folder, "checkpoints", "last.ckpt")) else []
    with open(os.path.join(folder, "run.log"), "a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {'resume' if resume else 'start'} ===\n")
        log.flush()
        return subprocess.run([python, "-m", "ramac", "fit", "--config", config_path,
                               "--trainer.enable_progress_bar", "false", *resume],
                              stdout=log, stderr=subprocess.STDOUT, env=env,
                              pass_fds=tuple(lock.fileno() for lock in locks)).returncode


def _outcome(cell: Cell, code: int, start: float, log_path: str, **record: Any) -> CellOutcome:
    """``cell``'s outcome once its process exited with ``code``: ``done`` (and its ``done.json``, written atomically,
    naming the result file, the seconds since ``start`` and ``record``) when it exited cleanly and left a result
    file, else ``failed`` with the reason and the tail of ``log_path``."""
    results = [name for name in RESULT_FILES if os.path.isfile(os.path.join(cell.folder, name))]
    if code != 0 or not results:
        reason = f"exit code {code}" if code != 0 else f"no result file ({' or '.join(RESULT_FILES)})"
        return CellOutcome(cell.label, cell.folder, "failed", time.time() - start, f"{reason}\n{_tail(log_path)}")
    write_atomic(os.path.join(cell.folder, "done.json"),
                 json.dumps({"result": results[0], "seconds": time.time() - start, **record}))
    return CellOutcome(cell.label, cell.folder, "done", time.time() - start)


def run_members(cells: list[Cell], sweep: Sweep, conf_dir: str, python: str, threads: int) -> list[CellOutcome]:
    """Run (or resume) the seeds ``cells`` of one sweep cell together in one ``ramac fit --members`` process
    (:mod:`ramac.learners.members`); each seed's folder gets what its solo run's would (``cell.json``, its own
    ``config.yaml``, result, logs, ``checkpoints/last.ckpt``, ``done.json``), the members folder
    (:func:`~ramac.experiments.spec.members_folder`) the process's config, log and checkpoint. Never raises for a
    failed run; any of the folders held by another process leaves the whole group to it (``busy``)."""
    if len(cells) == 1:
        return [run_cell(cells[0], sweep, conf_dir, python, threads)]
    folder = members_folder(cells)
    for path in (folder, *(c.folder for c in cells)):
        os.makedirs(path, exist_ok=True)
    locks = []
    for path in (folder, *(c.folder for c in cells)):
        lock = _lock(path)
        if lock is None:
            for held in locks:
                held.close()
            return [CellOutcome(c.label, c.folder, "busy", log_tail=f"{path}: another process holds running.lock; "
                                "left to it") for c in cells]
        locks.append(lock)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log_path = os.path.join(folder, "run.log")
    start = time.time()
    try:
        configs = [prepare_cell(cell, sweep, conf_dir, python, env) for cell in cells]
        config_path = os.path.join(folder, "config.yaml")
        if not os.path.isfile(config_path):
            with open(configs[0]) as handle:
                config = yaml.safe_load(handle)
            config["seed_everything"] = cells[0].seed
            config["trainer"]["default_root_dir"] = folder
            config["members"] = [{"seed": c.seed, "root_dir": c.folder} for c in cells]
            write_atomic(config_path, yaml.safe_dump(config, sort_keys=False))
        for cell in cells:
            with open(os.path.join(cell.folder, "run.log"), "a") as log:
                log.write(f"trained with seeds {[c.seed for c in cells]} in one process: {log_path}\n")
        code = _fit_process(folder, config_path, python, env, locks)
        return [_outcome(cell, code, start, log_path, members_run=folder) for cell in cells]
    except Exception as error:  # a broken composition is this group's failure, not the sweep's
        return [CellOutcome(c.label, c.folder, "failed", time.time() - start, f"{error}\n{_tail(log_path)}")
                for c in cells]
    finally:
        for lock in locks:
            lock.close()


def run_cell(cell: Cell, sweep: Sweep, conf_dir: str, python: str, threads: int) -> CellOutcome:
    """Run (or resume, or skip) one cell in a fresh ``ramac fit`` process; never raises for a failed run. A cell
    another process is running (it holds the cell's ``running.lock``: a second sweep over the same folders) is left
    to it, status ``busy``: two processes writing one checkpoint would corrupt it. The lock is ``flock``'s: it dies
    with the last process holding it (the sweep's and the run it started), so a killed sweep leaves none behind (on
    a cluster, the shared file system must support ``flock``)."""
    os.makedirs(cell.folder, exist_ok=True)
    done_path = os.path.join(cell.folder, "done.json")
    if os.path.isfile(done_path):
        return CellOutcome(cell.label, cell.folder, "skipped")
    lock = _lock(cell.folder)
    if lock is None:
        return CellOutcome(cell.label, cell.folder, "busy", log_tail=f"{cell.folder}: another process holds "
                           "running.lock (running.json names it); left to it")
    if os.path.isfile(done_path):  # finished by that other process just before the lock was free
        lock.close()
        return CellOutcome(cell.label, cell.folder, "skipped")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log_path = os.path.join(cell.folder, "run.log")
    start = time.time()
    write_atomic(os.path.join(cell.folder, "running.json"), json.dumps({"pid": os.getpid(), "start": start}))
    try:
        config_path = prepare_cell(cell, sweep, conf_dir, python, env)
        code = _fit_process(cell.folder, config_path, python, env, [lock])  # the run holds the lock too
        return _outcome(cell, code, start, log_path)
    except Exception as error:  # a broken composition is this cell's failure, not the sweep's
        return CellOutcome(cell.label, cell.folder, "failed", time.time() - start, f"{error}\n{_tail(log_path)}")
    finally:
        if os.path.exists(os.path.join(cell.folder, "running.json")):
            os.remove(os.path.join(cell.folder, "running.json"))
        lock.close()  # releases the lock


def progress(cell: Cell) -> tuple[int, int | None]:
    """Iterations logged so far (the CSV logger's last step) and the run's ``max_steps``."""
    steps = 0
    for path in glob.glob(os.path.join(cell.folder, "lightning_logs", "version_*", "metrics.csv")):
        try:
            with open(path) as handle:
                rows = list(csv.DictReader(handle))
        except OSError:
            continue
        steps = max([steps, *(int(float(r["step"])) + 1 for r in rows if r.get("step"))])
    total = None
    try:
        with open(os.path.join(cell.folder, "config.yaml")) as handle:
            total = int(yaml.safe_load(handle)["trainer"]["max_steps"])
    except (OSError, KeyError, TypeError, ValueError):
        pass
    return steps, total


def run_sweep(sweep: Sweep, conf_dir: str = "conf", address: str | None = None,
              on_update: Callable[[dict[str, CellOutcome | None], float], None] | None = None,
              num_cpus: int | None = None, serial: bool = False,
              cells: list[Cell] | None = None) -> list[CellOutcome]:
    """Run every cell of ``sweep`` on Ray and return the outcomes in cell order. ``on_update(states, start)`` is
    called about once a second with each cell's outcome (``None`` while queued or running). ``serial`` runs the
    cells one after another from this process instead, without Ray (the same files; for a second sweep beside a
    Ray sweep on one machine, or where Ray is not installed). ``cells`` runs only those (``Sweep.select``; every
    cell of ``sweep`` when ``None``)."""
    cells = sweep.cells() if cells is None else cells
    states: dict[str, CellOutcome | None] = {}
    pending = []
    for cell in cells:
        if os.path.isfile(os.path.join(cell.folder, "done.json")):
            states[cell.label] = CellOutcome(cell.label, cell.folder, "skipped")
        else:
            states[cell.label] = None
            pending.append(cell)
    start = time.time()
    groups = sweep.groups(pending)
    if pending and serial:
        for group in groups:
            if on_update is not None:
                on_update(states, start)
            for outcome in run_members(group, sweep, os.path.abspath(conf_dir), sys.executable,
                                       max(1, int(sweep.cpus_per_run))):
                states[outcome.label] = outcome
    elif pending:
        import ray

        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            if address:
                ray.init(address=address, **kwargs)
            else:
                # Ray starts its workers at nice 15 (and so the runs they spawn), which starves a sweep beside any
                # other process; the runs are the job here, so they get the priority of a run started by hand.
                # (On a cluster, start Ray with RAY_worker_niceness=0 for the same; README "Sweeps".)
                os.environ.setdefault("RAY_worker_niceness", "0")
                ray.init(num_cpus=num_cpus or os.cpu_count(), **kwargs)
        threads = max(1, int(sweep.cpus_per_run))
        task = ray.remote(run_members).options(num_cpus=sweep.cpus_per_run, num_gpus=sweep.gpus_per_run,
                                               max_retries=0)
        folder = os.path.abspath(conf_dir)
        refs = [task.remote(group, sweep, folder, sys.executable, threads) for group in groups]
        while refs:
            ready, refs = ray.wait(refs, num_returns=len(refs), timeout=1.0)
            for ref in ready:
                for outcome in ray.get(ref):
                    states[outcome.label] = outcome
            if on_update is not None:
                on_update(states, start)
    if on_update is not None:
        on_update(states, start)
    return [states[cell.label] for cell in cells]  # type: ignore[misc]


def outcome_record(outcomes: list[CellOutcome]) -> str:
    return json.dumps([asdict(o) for o in outcomes], indent=1)
