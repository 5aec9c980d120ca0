"""Reading finished runs: a run folder's identity (task, algorithm, seed, grid values), its result and its logs.

What a number is: every run contributes its **final evaluation of ``last.ckpt``** (the last entry of ``eval.json``,
written at the end of training; on the bandit ``bandit.json``'s sampled actions). Statistics over seeds:
:mod:`ramac.experiments.summaries`; tables: :mod:`ramac.experiments.tables`; the report's files:
:mod:`ramac.experiments.report`.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

CVAR_ALPHA = 0.1
# training metrics kept for the diagnostics figure: the critic's risk estimate at the policy's and the data's actions
# and its mean estimate at the data's actions (against the data's return-to-go: bench/critic_reference.py)
TRACED = ("train/actor/risk", "train/critic/risk_at_data", "train/critic/z_mean")
RESULT_FILES = ("eval.json", "bandit.json")


class ReportError(ValueError):
    """A run folder that cannot be read; the message names the folder or file."""


@dataclass(frozen=True)
class OnlineRecord:
    """A run's online phase (``online.json`` and ``online_steps.csv``, :mod:`ramac.callbacks.online`): where it
    started, how many environment steps one iteration takes, and every step's iteration, penalty, risky state and
    termination."""

    start_iteration: int
    steps_per_iteration: int
    step_iterations: np.ndarray  # [S] the iteration whose collection took each step
    step_penalties: np.ndarray  # [S] 1 where the step paid a penalty
    step_risky: np.ndarray  # [S] 1 where the step was risky (a hazard state; the ring on the bandit)
    step_terminations: np.ndarray  # [S] 1 where the step ended its episode by termination (a fall on locomotion)

    def env_steps(self, iteration: int) -> int:
        """Environment steps taken before the update that ends at ``iteration`` was evaluated."""
        return max(0, iteration - self.start_iteration) * self.steps_per_iteration

    def penalties_before(self, iteration: int) -> int:
        """Penalties paid by the steps collected before the evaluation at ``iteration``."""
        return int(self.step_penalties[self.step_iterations < iteration].sum())


@dataclass
class Run:
    folder: str
    task: str
    algo: str
    seed: int
    variant: str  # the grid values, "" without a grid
    overrides: dict[str, Any]
    iteration: int
    episodes: int
    mean: float
    cvar: float
    returns: list[float]
    ood: float | None
    normalized: float | None = None
    env_id: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    shares: dict[str, float] = field(default_factory=dict)  # bandit: centre / ring / between
    offsets: list[list[float]] | None = None  # bandit: sampled actions minus their context's centre
    risk_weight: float | None = None  # the resolved config's model.init_args.risk_weight, where it has one
    trace: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # TRACED training metrics by iteration
    data_sha256: str | None = None  # the training data's checksum (DataModule.describe), from the run's hparams.yaml
    ood_by_kappa: dict[float, float] = field(default_factory=dict)  # final evaluation's OOD rate at each κ recorded
    online: OnlineRecord | None = None  # the online phase, where the run had one
    penalties: float | None = None  # final evaluation: penalties per episode (locomotion runs with a hazard)
    risky: float | None = None  # final evaluation: share of steps that were risky (a hazard state or action)


def lower_tail_mean(values: list[float] | np.ndarray, alpha: float = CVAR_ALPHA) -> float:
    """CVaR_α of a sample: the mean of its ``max(1, ⌈α n⌉)`` smallest values (ramac's evaluation metric)."""
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    return float(ordered[:max(1, math.ceil(alpha * len(ordered)))].mean())


def _identity(folder: str) -> dict[str, Any]:
    """Task, algorithm, seed and grid values: ``cell.json`` of a sweep cell, else the run's saved config."""
    cell = os.path.join(folder, "cell.json")
    if os.path.isfile(cell):
        with open(cell) as handle:
            return json.load(handle)
    configs = sorted(glob.glob(os.path.join(folder, "config.yaml"))
                     + glob.glob(os.path.join(folder, "lightning_logs", "version_*", "config.yaml")))
    if not configs:
        raise ReportError(f"{folder}: no cell.json or config.yaml to tell the task, algorithm and seed")
    with open(configs[-1]) as handle:
        config = yaml.safe_load(handle)
    data = (config.get("data") or {}).get("init_args") or {}
    class_path = (config.get("data") or {}).get("class_path", "")
    task = "bandit" if class_path.endswith("BanditDataModule") else f"{data.get('env')}-{data.get('dataset')}"
    model = config.get("model") or {}
    algo = model.get("class_path", "?").rsplit(".", 1)[-1].lower()
    return {"task": task, "algo": algo, "seed": int(config.get("seed_everything", 0)), "overrides": {}}


def _risk_weight(folder: str) -> float | None:
    """The risk weight of the run's resolved ``config.yaml`` (sweep cells keep one), for the frontier."""
    path = os.path.join(folder, "config.yaml")
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        config = yaml.safe_load(handle) or {}
    value = ((config.get("model") or {}).get("init_args") or {}).get("risk_weight")
    return None if value is None else float(value)


def _data_sha256(folder: str) -> str | None:
    """The checksum of the data the run trained on, as its Lightning logs recorded it (``data.sha256`` of each
    version's ``hparams.yaml``); ``None`` for a folder without logs. A resumed run whose versions disagree is an
    error: the checkpoint was continued on other data."""
    found = set()
    for path in glob.glob(os.path.join(folder, "lightning_logs", "version_*", "hparams.yaml")):
        with open(path) as handle:
            found.add(((yaml.safe_load(handle) or {}).get("data") or {}).get("sha256"))
    found.discard(None)
    if len(found) > 1:
        raise ReportError(f"{folder}: its Lightning versions trained on different data (sha256 {sorted(found)})")
    return found.pop() if found else None


def read_trace(folder: str, keys: tuple[str, ...] = TRACED) -> dict[str, list[tuple[int, float]]]:
    """The logged metrics ``keys`` (default :data:`TRACED`) of the run folder ``folder``, each as ``(step, value)``
    rows in step order, from the run's ``metrics.csv`` files (one per Lightning version; a resumed run's later
    version replaces the earlier one's rows from its first step on). Keys never logged are left out."""
    def version(path: str) -> int:
        return int(os.path.basename(os.path.dirname(path)).rsplit("_", 1)[-1])

    out: dict[str, dict[int, float]] = {key: {} for key in keys}
    for path in sorted(glob.glob(os.path.join(folder, "lightning_logs", "version_*", "metrics.csv")), key=version):
        with open(path, newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("step")]
        if not rows:
            continue
        first = min(int(r["step"]) for r in rows)
        for key in keys:
            out[key] = {s: v for s, v in out[key].items() if s < first}
            out[key].update({int(r["step"]): float(r[key]) for r in rows if r.get(key)})
    return {key: sorted(values.items()) for key, values in out.items() if values}


def _ood_by_kappa(entry: dict[str, Any]) -> dict[float, float]:
    """The OOD rates an evaluation recorded at the κ of ``ramac.evaluation.ood.KAPPA_GRID`` (none before
    2026-12-02), by κ."""
    prefix = "ood_action_rate_kappa_"
    return {float(key[len(prefix):]): float(value) for key, value in entry.items() if key.startswith(prefix)}


def read_run(folder: str) -> Run:
    """One finished run (its result file and identity)."""
    identity = _identity(folder)
    overrides = identity.get("overrides") or {}
    variant = ",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in overrides.items())
    common = dict(folder=folder, task=identity["task"], algo=identity["algo"], seed=int(identity["seed"]),
                  variant=variant, overrides=overrides, risk_weight=_risk_weight(folder),
                  data_sha256=_data_sha256(folder))
    evaluation, bandit = os.path.join(folder, "eval.json"), os.path.join(folder, "bandit.json")
    try:
        if os.path.isfile(evaluation):
            with open(evaluation) as handle:
                content = json.load(handle)
            last = content["history"][-1]
            returns = last.get("returns")
            if returns is None:
                raise ReportError(f"{evaluation}: no per-episode returns (written before ramac kept them); "
                                  "re-evaluate the checkpoint")
            return Run(**common, iteration=int(last["iteration"]), episodes=len(returns),
                       mean=float(last["return_mean"]), cvar=lower_tail_mean(returns), returns=list(returns),
                       ood=last.get("ood_action_rate"), normalized=last.get("d4rl_normalized_score"),
                       env_id=content.get("meta", {}).get("env_id"), history=content["history"],
                       trace=read_trace(folder), ood_by_kappa=_ood_by_kappa(last), online=read_online(folder),
                       penalties=last.get("penalties_per_episode"), risky=last.get("risky_state_rate"))
        if os.path.isfile(bandit):
            with open(bandit) as handle:
                content = json.load(handle)
            rewards = content["rewards_learner"]
            return Run(**common, iteration=int(content["iterations"]), episodes=len(rewards),
                       mean=float(np.mean(rewards)), cvar=lower_tail_mean(rewards), returns=list(rewards),
                       ood=float(content["between_fraction_learner"]),
                       shares={k: float(content[f"{k}_fraction_learner"]) for k in ("safe", "ring", "between")},
                       offsets=content.get("offsets_learner"), online=read_online(folder))
    except (KeyError, IndexError, TypeError, json.JSONDecodeError) as error:
        raise ReportError(f"{folder}: unreadable result file ({type(error).__name__}: {error})") from None
    raise ReportError(f"{folder}: no result file ({' or '.join(RESULT_FILES)}); the run has not finished"
                      + _progress(folder))


def read_online(folder: str) -> OnlineRecord | None:
    """The run's online phase from ``online.json`` and ``online_steps.csv`` (``None`` without them)."""
    summary, steps = os.path.join(folder, "online.json"), os.path.join(folder, "online_steps.csv")
    if not os.path.isfile(summary):
        return None
    try:
        with open(summary) as handle:
            content = json.load(handle)
        options = content["options"]
        with open(steps, newline="") as handle:
            rows = list(csv.DictReader(handle))
        columns = {key: np.array([int(row[key]) for row in rows], dtype=np.int64)
                   for key in ("iteration", "penalty", "risky", "terminated")}
        return OnlineRecord(int(content["start_iteration"]),
                            int(options["envs"]) * int(options["env_steps_per_update"]),
                            columns["iteration"], columns["penalty"], columns["risky"], columns["terminated"])
    except (OSError, KeyError, ValueError, TypeError, json.JSONDecodeError) as error:
        raise ReportError(f"{folder}: unreadable online phase record ({type(error).__name__}: {error})") from None


def _progress(folder: str) -> str:
    """The last evaluation an unfinished run logged to ``metrics.csv`` (its progress, for the left-out list)."""
    keys = ("eval/return_mean", "eval/return_cvar_0.1", "eval/ood_action_rate")
    logged = read_trace(folder, keys)
    if "eval/return_mean" not in logged:
        return ""
    iteration, mean = logged["eval/return_mean"][-1]
    parts = [f"iteration {iteration}", f"return mean {mean:.2f}"]
    for key, label, digits in ((keys[1], "CVaR₀.₁", 2), (keys[2], "OOD rate", 3)):
        value = dict(logged.get(key, [])).get(iteration)
        if value is not None:
            parts.append(f"{label} {value:.{digits}f}")
    return f" (last evaluation in metrics.csv: {', '.join(parts)})"


def find_runs(paths: list[str]) -> tuple[list[Run], list[tuple[str, str]]]:
    """Every run folder under ``paths`` (a folder holding ``cell.json``, ``done.json`` or a result file), read;
    and the folders that could not be read with the reason (failed or unfinished runs are reported, not hidden)."""
    folders: set[str] = set()
    for path in paths:
        if not os.path.isdir(path):
            raise ReportError(f"{path}: no such folder")
        for root, _, files in os.walk(path):
            if {"cell.json", "done.json", *RESULT_FILES} & set(files):
                folders.add(root)
    runs, problems = [], []
    for folder in sorted(folders):
        try:
            runs.append(read_run(folder))
        except ReportError as error:
            problems.append((folder, str(error)))
    return runs, problems
