"""The behaviour-policy zoo shipped with ramac, and the datasets made from it.

Layout: ``ramac/zoo/policies/<env_id>/`` holds ``medium.pt`` and ``expert.pt`` (actor weights), the
snapshots ``replay_<step>.pt`` that the agent used up to its medium snapshot, and ``provenance.json``
(env id and version, gymnasium/MuJoCo versions, algorithm and hyperparameters, training steps, seed, eval
returns). ``promote`` fills it from a ``ramac data train-behaviour`` run.

Datasets (D4RL's names; sizes as D4RL's by default):

- ``medium`` / ``expert``: rollouts of that policy (stochastic actions, as the agent acted);
- ``medium-expert``: half medium rollouts followed by half expert rollouts (D4RL: 1M + 1M);
- ``medium-replay``: our reconstruction of the agent's replay buffer up to the medium snapshot: the first
  ``random_steps`` rows are uniform random actions (as in training), then each block of
  ``snapshot_every`` rows is rolled out with the snapshot taken at the start of that block. It differs
  from a true replay buffer, where the policy changes after every gradient step; the state distribution
  and the spread of behaviour are those of the training run, block by block.

Every dataset is made by one *generation* of the policy arithmetic (:class:`ramac.zoo.policy.ZooPolicy`; 2,
the default, gives the same file on every CPU) and records it, with the policies' ``zoo_version`` and its data
checksum, in its provenance; :mod:`ramac.zoo.checksums` holds the published checksums (README "Data").
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import gymnasium
import mujoco
import numpy as np

from ramac.tasks import ENVS, ZOO_DATASETS
from ramac.zoo.paths import zoo_dataset_path
from ramac.zoo.policy import GENERATION, ZooPolicy
from ramac.zoo.rollouts import KEYS, UniformPolicy, collect

ZOO_DIR = Path(__file__).parent / "policies"
DEFAULT_SIZES = {"medium": 1_000_000, "expert": 1_000_000, "medium-expert": 2_000_000}
# Rollout shards per generation (ramac.zoo.rollouts.collect): generation 2 always makes 8, so its data do not
# depend on how many worker processes make them (a 16-core machine makes hopper-medium-expert 8 shards at a
# time); generation 1 made one per worker (the default 2), so its data depend on --workers too.
SHARDS = {1: None, 2: 8}


def action_box(env_id: str) -> tuple[int, float]:
    """Action dimension and bound of a gymnasium environment (its actions lie in ``[-bound, bound]^A``)."""
    env = gymnasium.make(env_id)
    try:
        return int(env.action_space.shape[0]), float(np.max(np.abs(env.action_space.high)))
    finally:
        env.close()


def software_versions() -> dict[str, str]:
    """The simulator versions a dataset was made with (recorded in its provenance)."""
    return {"gymnasium": gymnasium.__version__, "mujoco": mujoco.__version__}


def zoo_dir(env_id: str) -> Path:
    path = ZOO_DIR / env_id
    if not (path / "provenance.json").exists():
        shipped = sorted(p.name for p in ZOO_DIR.iterdir() if (p / "provenance.json").exists()) \
            if ZOO_DIR.exists() else []
        raise FileNotFoundError(f"the zoo has no policies for {env_id} (shipped: {shipped or 'none'}); train them "
                                "with `ramac data train-behaviour` and `ramac data promote`")
    return path


def provenance(env_id: str) -> dict[str, Any]:
    return json.loads((zoo_dir(env_id) / "provenance.json").read_text())


def zoo_version(env_id: str) -> str:
    """Identifies the shipped policies of ``env_id``: the first 8 hex digits of their provenance's SHA-256."""
    return hashlib.sha256((zoo_dir(env_id) / "provenance.json").read_bytes()).hexdigest()[:8]


def _eval_rows(run: Path) -> list[tuple[int, float, float]]:
    with open(run / "eval.csv") as handle:
        return [(int(r["step"]), float(r["return_mean"]), float(r["return_std"])) for r in csv.DictReader(handle)]


def choose_expert(rows: list[tuple[int, float, float]], expert_return: float | None) -> tuple[int, float, float]:
    """The expert among evaluated snapshots ``(step, return mean, return std)``: the highest ``mean - std``
    among those whose mean reaches ``expert_return`` (all of them when none does or no target is given).

    SAC's evaluation returns swing between snapshots (Walker2d: 3754 ± 1109 next to 3623 ± 129), and an
    expert that falls over in one episode of three is a poor expert; ``mean - std`` prefers the steady one.
    """
    if not rows:
        raise ValueError("no evaluated snapshots to choose an expert from")
    reached = [r for r in rows if expert_return is not None and r[1] >= expert_return]
    return max(reached or rows, key=lambda r: r[1] - r[2])


def promote(run: str | Path, env_id: str, medium_return: float, expert_return: float | None = None) -> Path:
    """Copy a training run's medium and expert snapshots (and the replay snapshots) into the zoo.

    medium = the first evaluated snapshot whose mean return reaches ``medium_return``; expert: see
    :func:`choose_expert` (the provenance records whether ``expert_return`` was reached).
    """
    run = Path(run)
    rows = [r for r in _eval_rows(run) if (run / "snapshots" / f"actor_{r[0]:07d}.pt").exists()]
    medium = next((r for r in rows if r[1] >= medium_return), None)
    if medium is None:
        raise ValueError(f"{run}: no snapshot reaches the medium return {medium_return} (best "
                         f"{max(r[1] for r in rows) if rows else 'none'})")
    expert = choose_expert(rows, expert_return)
    config = json.loads((run / "config.json").read_text())
    out = ZOO_DIR / env_id
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / "snapshots" / f"actor_{medium[0]:07d}.pt", out / "medium.pt")
    shutil.copy(run / "snapshots" / f"actor_{expert[0]:07d}.pt", out / "expert.pt")
    replay = []
    for step in range(config["random_steps"], medium[0], config["snapshot_every"]):
        source = run / "snapshots" / f"actor_{step:07d}.pt"
        if step > 0 and source.exists():
            shutil.copy(source, out / f"replay_{step:07d}.pt")
            replay.append(step)
    record = {
        "env_id": env_id, **software_versions(),
        "algorithm": "SAC (ramac.zoo.sac)", "hyperparameters": config,
        "medium": {"step": medium[0], "eval_return_mean": medium[1], "eval_return_std": medium[2],
                   "threshold": medium_return},
        "expert": {"step": expert[0], "eval_return_mean": expert[1], "eval_return_std": expert[2],
                   "threshold": expert_return, "reached": expert_return is None or expert[1] >= expert_return},
        "replay_snapshots": replay, "eval_episodes": config["eval_episodes"],
    }
    (out / "provenance.json").write_text(json.dumps(record, indent=2))
    return out


def default_size(env_id: str, dataset: str) -> int:
    """D4RL's size for ``medium``/``expert``/``medium-expert``; for ``medium-replay``, the steps the agent
    took up to its medium snapshot."""
    return DEFAULT_SIZES.get(dataset) or provenance(env_id)["medium"]["step"]


def make_zoo_dataset(env_id: str, dataset: str, size: int | None, seed: int, num_envs: int = 16,
                     workers: int = 1, progress: Any = None,
                     generation: int = GENERATION) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays in D4RL's layout for a zoo dataset, and their provenance; ``generation`` picks the policy
    arithmetic (:class:`ramac.zoo.policy.ZooPolicy`: 2, CPU-independent; 1, the first studies')."""
    if dataset not in ZOO_DATASETS:
        raise ValueError(f"the zoo makes {ZOO_DATASETS}, not {dataset!r}")
    folder, record = zoo_dir(env_id), provenance(env_id)
    action_dim, scale = action_box(env_id)

    def policy(name: str) -> ZooPolicy:
        return ZooPolicy.load(folder / name, scale, generation)

    shards = SHARDS[generation] or workers

    def run(pol: Any, rows: int, part_seed: int) -> dict[str, np.ndarray]:
        return collect(env_id, pol, rows, part_seed, num_envs, workers, progress, shards)

    rows = size or default_size(env_id, dataset)
    if dataset in ("medium", "expert"):
        data = run(policy(f"{dataset}.pt"), rows, seed)
    elif dataset == "medium-expert":
        parts = [run(policy("medium.pt"), rows // 2, seed), run(policy("expert.pt"), rows - rows // 2, seed + 1)]
        data = {k: np.concatenate([p[k] for p in parts]) for k in KEYS}
    else:
        hp = record["hyperparameters"]
        total = record["medium"]["step"]
        blocks: list[tuple[int, Any]] = [(hp["random_steps"], None)]
        for step in record["replay_snapshots"]:
            blocks.append((hp["snapshot_every"], policy(f"replay_{step:07d}.pt")))
        parts, written = [], 0
        for index, (block_rows, pol) in enumerate(blocks):
            take = min(block_rows * rows // total, rows - written)  # blocks scaled to the requested size
            if index == len(blocks) - 1:
                take = rows - written
            if take <= 0:
                continue
            act = UniformPolicy(action_dim, scale) if pol is None else pol
            parts.append(run(act, take, seed + index))
            written += take
        data = {k: np.concatenate([p[k] for p in parts]) for k in KEYS}
    meta = {"source": "ramac zoo (gymnasium v5 regeneration, not D4RL v2)", "env_id": env_id, "dataset": dataset,
            "seed": seed, "size": len(data["rewards"]), "generation": generation,
            "shards": shards, **software_versions(), "zoo_version": zoo_version(env_id),
            "zoo": {k: record[k] for k in ("medium", "expert")}}
    return data, meta


def split_name(name: str) -> tuple[str, str]:
    env, _, dataset = name.partition("-")
    if env not in ENVS or not dataset:
        raise ValueError(f"dataset name {name!r} must be <env>-<dataset> with env in {sorted(ENVS)}")
    return env, dataset


def make_dataset(name: str, size: int | None, seed: int, out: Path | None = None, workers: int = 2,
                 generation: int = GENERATION) -> Path:
    """Make (or reuse) the zoo dataset ``name`` and return its file; a dataset made here is checked against
    the published checksum (:mod:`ramac.zoo.checksums`), and the verdict printed and stored in its provenance."""
    from rich.progress import Progress

    from ramac.zoo.checksums import judge
    from ramac.zoo.datasets import dataset_checksum, write_hdf5

    env, dataset = split_name(name)
    env_id = ENVS[env].gym_id
    path = out or zoo_dataset_path(env_id, dataset, seed, size, zoo_version(env_id), generation)
    if path.exists():
        return path
    total = size or default_size(env_id, dataset)
    with Progress() as progress:
        progress.console.print(f"ramac: making {name} ({total:,} transitions, seed {seed}, generation {generation}) "
                               f"from the ramac zoo into {path} (a gymnasium v5 regeneration, not D4RL v2)")
        task = progress.add_task(f"making {name} from the ramac zoo", total=total)
        data, meta = make_zoo_dataset(env_id, dataset, size, seed, workers=workers,
                                      progress=lambda rows: progress.advance(task, rows), generation=generation)
        verdict = judge(name, dataset_checksum(data), meta)
        progress.console.print(f"ramac: {verdict.message}", style=None if verdict.ok else "bold red")
    meta["sha256"] = verdict.checksum
    if verdict.published is not None:
        meta["published_sha256"] = verdict.published
    return write_hdf5(path, data, meta)
