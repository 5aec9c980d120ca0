"""Minari datasets (D4RL's successor on gymnasium MuJoCo v5) flattened into transitions."""

from __future__ import annotations

import numpy as np

from ramac.data.transitions import Transitions


def minari_transitions(dataset_id: str, download: bool = True) -> Transitions:
    """Load ``dataset_id`` with ``minari.load_dataset`` (downloading it when allowed) and flatten it.

    Episodes are taken in order of their id (Minari's HDF5 groups sort as text). Episode ``e`` with
    ``T`` steps stores ``T + 1`` observations; its transitions are ``(o_t, a_t, r_t, o_{t+1})`` with
    ``terminal = terminations[t]`` and the episode end at ``t = T - 1`` (termination or truncation).
    """
    try:
        import minari
    except ImportError as err:
        raise ImportError("data source 'minari' needs the minari package: pip install 'ramac[minari]'") from err
    try:
        dataset = minari.load_dataset(dataset_id, download=download)
    except Exception as err:  # minari raises several types for a missing/unreachable dataset
        raise FileNotFoundError(
            f"Minari dataset {dataset_id!r} could not be loaded ({type(err).__name__}: {err}). Datasets are "
            "looked up under $MINARI_DATASETS_PATH (default ~/.minari/datasets) and downloaded when the network "
            "allows (needs 'minari[hf]').") from err
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "act", "rew", "next", "term", "end")}
    for episode in sorted(dataset.iterate_episodes(), key=lambda ep: ep.id):
        obs = episode.observations
        if not isinstance(obs, np.ndarray):
            raise ValueError(f"Minari dataset {dataset_id!r}: episode {episode.id} has structured observations "
                             f"({type(obs).__name__}); only flat Box observations are supported")
        steps = len(episode.actions)
        if obs.shape[0] != steps + 1:
            raise ValueError(f"Minari dataset {dataset_id!r}: episode {episode.id} has {obs.shape[0]} observations "
                             f"for {steps} actions (expected {steps + 1})")
        end = np.zeros(steps, dtype=np.float32)
        end[-1] = 1.0
        parts["obs"].append(obs[:-1])
        parts["next"].append(obs[1:])
        parts["act"].append(episode.actions)
        parts["rew"].append(episode.rewards)
        parts["term"].append(np.asarray(episode.terminations, dtype=np.float32))
        parts["end"].append(end)
    if not parts["obs"]:
        raise ValueError(f"Minari dataset {dataset_id!r} holds no episodes")
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return Transitions(cat["obs"], cat["act"], cat["rew"], cat["next"], cat["term"],
                       source=f"minari:{dataset_id}", episode_ends=cat["end"])
