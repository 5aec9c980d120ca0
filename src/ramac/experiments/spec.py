"""Sweep files: tasks × algorithms × seeds × an optional grid over config keys, and the evaluation protocol.

A sweep file (YAML; ``conf/sweeps/*.yaml``)::

    name: demo                      # folder under `root`
    root: runs/sweeps               # optional (default runs/sweeps)
    tasks: [bandit]
    algos: [radac, bc]
    seeds: 2                        # a count (0..n-1) or a list
    grid:                           # optional: config key -> values; every combination is a cell
      model.init_args.risk_weight: [0.1, 0.5]
      model.init_args.normalize_risk+model.init_args.risk_weight: [[false, 0.05], [true, 1.0]]   # keys tied by +
    set:                            # optional: the same value for every cell
      trainer.max_steps: 3000
    algo_set:                       # optional: values for one algorithm's cells (over `set`; not in the folder name)
      radac: {model.init_args.diffusion_steps: 10}
    evaluation:                     # optional: the protocol of the final evaluation, set once per sweep
      episodes: 50                  # per seed (locomotion tasks); default 50, null: the task's (10, the paper's)
      horizon: null                 # the task's horizon when null
      every_n_iterations: null      # also evaluate during training this often (learning curves); the task's when null
      ood_max_actions: null         # score a seeded sample of this many visited actions for the OOD rate (all: null)
      keep_checkpoints: false       # keep the weights of every evaluation point (for `ramac select`)
    resources:                      # optional
      cpus_per_run: 1
      gpus_per_run: 0               # a fraction packs several runs on one GPU
      members_per_run: 1            # seeds of one cell trained together in one process (ramac.learners.members)

Every cell is an ordinary run: ``ramac fit --algo A --task T --seed_everything S --<key> <value>...`` with its
folder ``<root>/<name>/<task>/<algo>/<grid-values>/seed<S>``; :mod:`ramac.experiments.engine` writes the composed
configuration into that folder and runs it. With ``members_per_run: N`` the seeds of each (task, algorithm, grid
values) are trained N at a time in one ``ramac fit --members`` process, whose folder ``members-seed<a>-…`` sits beside
the seeds' folders; each seed's folder is still written as its solo run's (same files, same report).
"""

from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

KEYS = {"name", "root", "tasks", "algos", "seeds", "grid", "set", "algo_set", "evaluation", "resources"}
EVALUATION_KEYS = {"episodes", "horizon", "every_n_iterations", "ood_max_actions", "keep_checkpoints"}
RESOURCE_KEYS = {"cpus_per_run", "gpus_per_run", "members_per_run"}
DEFAULT_EPISODES = 50


class SweepError(ValueError):
    """A sweep file that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Cell:
    """One run of a sweep."""

    task: str
    algo: str
    seed: int
    overrides: tuple[tuple[str, Any], ...]  # the grid's values for this cell, in the sweep file's key order
    folder: str
    algo_fixed: tuple[tuple[str, Any], ...] = ()  # the sweep's `algo_set` values for this cell's algorithm

    def fit_args(self, conf_dir: str, fixed: dict[str, Any]) -> list[str]:
        """``ramac fit`` arguments of this cell (without the subcommand): ``fixed`` (the sweep's ``set``), this
        algorithm's ``algo_set`` values over it, then the grid's."""
        args = ["--algo", self.algo, "--task", self.task, "--conf_dir", conf_dir, "--seed_everything", str(self.seed),
                "--trainer.default_root_dir", self.folder]
        for key, value in (*{**fixed, **dict(self.algo_fixed)}.items(), *self.overrides):
            args += [f"--{key}", yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("\n...")]
        return args

    @property
    def label(self) -> str:
        return "/".join([self.task, self.algo, *(f"{k}={v}" for k, v in self.overrides), f"seed{self.seed}"])


@dataclass(frozen=True)
class Sweep:
    name: str
    root: str
    tasks: tuple[str, ...]
    algos: tuple[str, ...]
    seeds: tuple[int, ...]
    grid: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    algo_fixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    episodes: int | None = None
    horizon: int | None = None
    every_n_iterations: int | None = None
    ood_max_actions: int | None = None
    keep_checkpoints: bool = False
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0
    members_per_run: int = 1

    @property
    def folder(self) -> str:
        return os.path.join(self.root, self.name)

    def cells(self) -> list[Cell]:
        """Every cell, seeds outermost, then task, algorithm and grid values: Ray starts cells in this order, so a
        sweep cut short, or run on fewer cores than it has cells, has every column's first seeds done first."""
        keys = list(self.grid)
        out = []
        for seed, task, algo in itertools.product(self.seeds, self.tasks, self.algos):
            for values in itertools.product(*(self.grid[k] for k in keys)):
                overrides = tuple(pair for key, value in zip(keys, values, strict=True)
                                  for pair in (zip(key.split("+"), value, strict=True) if "+" in key
                                               else [(key, value)]))
                part = ",".join(f"{_short(k)}={_slug(v)}" for k, v in overrides) or "default"
                folder = os.path.join(self.folder, task, algo, part, f"seed{seed}")
                out.append(Cell(task, algo, seed, overrides, folder, tuple(self.algo_fixed.get(algo, {}).items())))
        return out

    def select(self, cells: list[Cell], filters: list[str]) -> list[Cell]:
        """The cells of ``cells`` that match every filter ``KEY=VALUE[,VALUE...]`` (``ramac sweep --only``), in their
        order. KEY is ``task``, ``algo``, ``seed`` or a grid key (in full or its last part, as in the folder names);
        a value matches as written in the cell's folder name (``quantile_pairing=released``, ``seed=2``,
        ``algo=bc,cql``). A malformed filter, an unknown key or a selection of no cell is a :class:`SweepError`."""
        grid_keys = [key for tied in self.grid for key in tied.split("+")]
        known = {"task", "algo", "seed", *grid_keys, *map(_short, grid_keys)}
        wanted: dict[str, set[str]] = {}
        for text in filters:
            key, sep, values = text.partition("=")
            if not sep or not key or not values:
                raise SweepError(f"--only {text!r}: expected KEY=VALUE[,VALUE...]")
            if key not in known:
                raise SweepError(f"--only {text!r}: unknown key '{key}'; expected one of {sorted(known)}")
            wanted.setdefault(key, set()).update(values.split(","))

        def fields(cell: Cell) -> dict[str, str]:
            out = {"task": cell.task, "algo": cell.algo, "seed": str(cell.seed)}
            for key, value in cell.overrides:
                out[key] = out[_short(key)] = _slug(value)
            return out

        chosen = [cell for cell in cells if all(fields(cell).get(key) in values for key, values in wanted.items())]
        if not chosen:
            raise SweepError(f"--only {' '.join(filters)}: matches none of the {len(cells)} cells of sweep "
                             f"'{self.name}'")
        return chosen

    def groups(self, cells: list[Cell]) -> list[list[Cell]]:
        """``cells`` as the processes that train them: one cell each, or with ``members_per_run`` N the cells that
        differ only by seed, N at a time in the sweep's seed order (the first group starts first)."""
        if self.members_per_run == 1:
            return [[cell] for cell in cells]
        by_run: dict[str, list[Cell]] = {}
        for cell in cells:  # grid values may be lists (unhashable): the cell's folder without its seed names the run
            by_run.setdefault(os.path.dirname(cell.folder), []).append(cell)
        chunks = [same[i:i + self.members_per_run] for same in by_run.values()
                  for i in range(0, len(same), self.members_per_run)]
        return sorted(chunks, key=lambda chunk: cells.index(chunk[0]))


def members_folder(cells: list[Cell]) -> str:
    """The folder of the members process that trains ``cells`` (the seeds of one sweep cell): beside theirs."""
    return os.path.join(os.path.dirname(cells[0].folder), "members-" + "-".join(f"seed{c.seed}" for c in cells))


def _short(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _slug(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", str(value)).strip("_") or "_"


def _text(path: str, key: str, value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise SweepError(f"{path}: '{key}' must be {what}, got {value!r}")
    return value


def _names(path: str, key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise SweepError(f"{path}: '{key}' must be a name or a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise SweepError(f"{path}: '{key}' lists a name twice: {value}")
    return tuple(value)


def load_sweep(path: str, conf_dir: str = "conf") -> Sweep:
    """Read and check a sweep file; every problem is one :class:`SweepError` naming the file and the key."""
    try:
        with open(path) as handle:
            content = yaml.safe_load(handle)
    except OSError as error:
        raise SweepError(f"{path}: cannot read the sweep file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise SweepError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(content, dict):
        raise SweepError(f"{path}: expected a mapping with keys {sorted(KEYS)}")
    unknown = set(content) - KEYS
    if unknown:
        raise SweepError(f"{path}: unknown key(s) {sorted(unknown)}; expected some of {sorted(KEYS)}")
    for key in ("name", "tasks", "algos", "seeds"):
        if key not in content:
            raise SweepError(f"{path}: '{key}' is missing")
    name = _text(path, "name", content["name"], "a folder name")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise SweepError(f"{path}: 'name' must be a plain folder name (letters, digits, . _ -), got {name!r}")
    tasks, algos = _names(path, "tasks", content["tasks"]), _names(path, "algos", content["algos"])
    for key, names, folder in (("tasks", tasks, os.path.join(conf_dir, "tasks")),
                               ("algos", algos, os.path.join(conf_dir, "algos"))):
        for item in names:
            if not os.path.isfile(os.path.join(folder, f"{item}.yaml")):
                raise SweepError(f"{path}: '{key}' names {item!r}, which has no {folder}/{item}.yaml")
    seeds = content["seeds"]
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise SweepError(f"{path}: 'seeds' as a count must be >= 1, got {seeds}")
        seeds = list(range(seeds))
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool)
                                                           and s >= 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise SweepError(f"{path}: 'seeds' must be a count or a list of distinct integers >= 0, got {seeds!r}")
    grid = content.get("grid") or {}
    if not isinstance(grid, dict):
        raise SweepError(f"{path}: 'grid' must map config keys to lists of values, got {grid!r}")
    for key, values in grid.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][\w.]*(\+[A-Za-z_][\w.]*)*", key):
            raise SweepError(f"{path}: 'grid' key {key!r} is not a config key such as model.init_args.risk_weight "
                             "(or keys tied by +)")
        if not isinstance(values, list) or not values:
            raise SweepError(f"{path}: 'grid.{key}' must be a non-empty list of values, got {values!r}")
        width = key.count("+") + 1
        if width > 1 and not all(isinstance(v, list) and len(v) == width for v in values):
            raise SweepError(f"{path}: 'grid.{key}' ties {width} keys: each value must be a list of {width} values "
                             f"(one per key), got {values!r}")
    grid_keys = [k for key in grid for k in key.split("+")]
    if len(set(grid_keys)) != len(grid_keys):
        raise SweepError(f"{path}: a key appears twice in 'grid': {grid_keys}")
    fixed = content.get("set") or {}
    if not isinstance(fixed, dict) or not all(isinstance(k, str) and re.fullmatch(r"[A-Za-z_][\w.]*", k)
                                              for k in fixed):
        raise SweepError(f"{path}: 'set' must map config keys to values, got {fixed!r}")
    both = set(fixed) & set(grid_keys)
    if both:
        raise SweepError(f"{path}: key(s) {sorted(both)} are in both 'grid' and 'set'")
    algo_fixed = content.get("algo_set") or {}
    if not isinstance(algo_fixed, dict):
        raise SweepError(f"{path}: 'algo_set' must map algorithms to {{config key: value}}, got {algo_fixed!r}")
    for algo, values in algo_fixed.items():
        if algo not in algos:
            raise SweepError(f"{path}: 'algo_set' names {algo!r}, which is not in 'algos' {list(algos)}")
        if not isinstance(values, dict) or not all(isinstance(k, str) and re.fullmatch(r"[A-Za-z_][\w.]*", k)
                                                   for k in values):
            raise SweepError(f"{path}: 'algo_set.{algo}' must map config keys to values, got {values!r}")
        if set(values) & set(grid_keys):
            raise SweepError(f"{path}: key(s) {sorted(set(values) & set(grid_keys))} are in both 'grid' and "
                             f"'algo_set.{algo}'")
    set_keys = set(fixed) | {k for values in algo_fixed.values() for k in values}
    reserved = {"seed_everything", "trainer.default_root_dir"} & (set_keys | set(grid_keys))
    if reserved:
        raise SweepError(f"{path}: {sorted(reserved)} are set by the sweep itself ('seeds', the cell's folder)")
    evaluation = content.get("evaluation") or {}
    if not isinstance(evaluation, dict) or set(evaluation) - EVALUATION_KEYS:
        raise SweepError(f"{path}: 'evaluation' takes {sorted(EVALUATION_KEYS)}, got {evaluation!r}")
    # 50 episodes by default: CVaR₀.₁ is then the mean of the 5 worst, where the paper's 10 make it the single
    # worst episode (research note experiments.md §3)
    episodes, horizon = evaluation.get("episodes", DEFAULT_EPISODES), evaluation.get("horizon")
    every, ood_max = evaluation.get("every_n_iterations"), evaluation.get("ood_max_actions")
    for key, value in (("episodes", episodes), ("horizon", horizon), ("every_n_iterations", every),
                       ("ood_max_actions", ood_max)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise SweepError(f"{path}: 'evaluation.{key}' must be an integer >= 1 or null, got {value!r}")
    keep = evaluation.get("keep_checkpoints", False)
    if not isinstance(keep, bool):
        raise SweepError(f"{path}: 'evaluation.keep_checkpoints' must be true or false, got {keep!r}")
    resources = content.get("resources") or {}
    if not isinstance(resources, dict) or set(resources) - RESOURCE_KEYS:
        raise SweepError(f"{path}: 'resources' takes {sorted(RESOURCE_KEYS)}, got {resources!r}")
    cpus, gpus = resources.get("cpus_per_run", 1), resources.get("gpus_per_run", 0)
    for key, value, low in (("cpus_per_run", cpus, 0.0), ("gpus_per_run", gpus, 0.0)):
        if not isinstance(value, int | float) or isinstance(value, bool) or value < low or \
                (key == "cpus_per_run" and value <= 0):
            raise SweepError(f"{path}: 'resources.{key}' must be a number {'> 0' if key == 'cpus_per_run' else '>= 0'}"
                             f", got {value!r}")
    members = resources.get("members_per_run", 1)
    if not isinstance(members, int) or isinstance(members, bool) or members < 1:
        raise SweepError(f"{path}: 'resources.members_per_run' must be an integer >= 1, got {members!r}")
    root = _text(path, "root", content.get("root", os.path.join("runs", "sweeps")), "a folder")
    root = os.path.abspath(root)  # Ray workers and cluster nodes see the cells by absolute path
    values = {key: tuple(tuple(v) if "+" in key else v for v in vs) for key, vs in grid.items()}
    return Sweep(name, root, tasks, algos, tuple(seeds), values, dict(fixed),
                 {algo: dict(v) for algo, v in algo_fixed.items()}, episodes, horizon, every, ood_max, keep,
                 float(cpus), float(gpus), members)
