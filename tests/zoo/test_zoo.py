"""The zoo pipeline on a tiny SAC run: promote, make every dataset kind, and the `zoo`/`auto` sources."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ramac.cli.data import main as data_main
from ramac.data.d4rl import d4rl_transitions, read_d4rl_file
from ramac.data.locomotion import StochasticD4RLDataModule
from ramac.zoo import registry
from ramac.zoo.sac import SACConfig, SACTrainer


@pytest.fixture
def tiny_zoo(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "ZOO_DIR", tmp_path / "zoo")
    monkeypatch.setenv("RAMAC_DATA_DIR", str(tmp_path / "home"))
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl"))
    config = SACConfig(env_id="Hopper-v5", total_steps=500, hidden_dim=32, batch_size=32, random_steps=100,
                       eval_every=100, eval_episodes=2, snapshot_every=100, checkpoint_every=100)
    SACTrainer(config, tmp_path / "run").train()
    rows = (tmp_path / "run" / "eval.csv").read_text().splitlines()[1:]
    returns = [float(r.split(",")[1]) for r in rows]
    data_main(["promote", str(tmp_path / "run"), "Hopper-v5", "--medium-return", str(sorted(returns)[1]),
               "--expert-return", "1e9"])
    return tmp_path


def test_promote_records_provenance(tiny_zoo):
    record = json.loads((tiny_zoo / "zoo" / "Hopper-v5" / "provenance.json").read_text())
    assert record["env_id"] == "Hopper-v5" and record["hyperparameters"]["total_steps"] == 500
    assert record["expert"]["reached"] is False  # the tiny run never gets near 1e9: stated, not hidden
    steps = record["replay_snapshots"]
    assert steps == list(range(100, record["medium"]["step"], 100))
    for name in ("medium.pt", "expert.pt", *[f"replay_{s:07d}.pt" for s in steps]):
        assert (tiny_zoo / "zoo" / "Hopper-v5" / name).exists()


def test_expert_is_the_steadiest_snapshot_that_reaches_the_target():
    rows = [(10, 3000.0, 50.0), (20, 4300.0, 900.0), (30, 4100.0, 40.0), (40, 3900.0, 10.0)]
    assert registry.choose_expert(rows, 4000.0)[0] == 30  # 4300 ± 900 reaches too but is unsteady
    assert registry.choose_expert(rows, 5000.0)[0] == 30  # none reaches: steadiest overall
    assert registry.choose_expert(rows[:1] + rows[3:], 4000.0)[0] == 40
    with pytest.raises(ValueError, match="no evaluated snapshots"):
        registry.choose_expert([], 4000.0)


@pytest.mark.parametrize("dataset", ["medium", "expert", "medium-expert", "medium-replay"])
def test_zoo_datasets_are_deterministic_and_loadable(tiny_zoo, dataset):
    a, meta = registry.make_zoo_dataset("Hopper-v5", dataset, 300, seed=1)
    b, _ = registry.make_zoo_dataset("Hopper-v5", dataset, 300, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["rewards"]) == meta["size"] == 300
    assert "not D4RL v2" in meta["source"]
    path = registry.make_dataset(f"hopper-{dataset}", 300, seed=1, workers=1)
    assert path.exists() and registry.make_dataset(f"hopper-{dataset}", 300, seed=1, workers=1) == path  # cached
    t = d4rl_transitions(read_d4rl_file(path), str(path))
    assert 0 < len(t) < 300


def test_auto_source_falls_back_to_the_zoo(tiny_zoo):
    dm = StochasticD4RLDataModule("hopper", "medium-expert", zoo_size=400, batch_size=32)  # 2 rollout workers
    assert dm.description["resolved_source"] == "zoo"
    name = dm.description["path"].rsplit("/", 1)[-1]
    assert name.startswith("Hopper-v5-medium-expert-zoo-") and name.endswith("-seed0-400.hdf5")
    with pytest.raises(FileNotFoundError, match="no policies for Walker2d-v5"):
        _ = StochasticD4RLDataModule("walker2d", "medium", source="zoo").transitions
    with pytest.raises(FileNotFoundError, match=r"not at .*walker2d_medium-v2\.hdf5.*--data.source d4rl"):
        _ = StochasticD4RLDataModule("walker2d", "medium").transitions


def test_two_rollout_workers_are_deterministic_and_keep_episodes_whole(tiny_zoo):
    from ramac.zoo.policy import ZooPolicy
    from ramac.zoo.rollouts import collect

    policy = ZooPolicy.load(tiny_zoo / "zoo" / "Hopper-v5" / "medium.pt")
    a = collect("Hopper-v5", policy, 900, seed=2, num_envs=4, workers=2)
    b = collect("Hopper-v5", policy, 900, seed=2, num_envs=4, workers=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["rewards"]) == 900
    # rows follow each other inside an episode: the next observation is the following row's observation
    ends = a["terminals"] | a["timeouts"]
    inside = np.flatnonzero(~ends[:-1])
    assert np.allclose(a["next_observations"][inside], a["observations"][inside + 1])


def test_list_shows_zoo_and_cache_state(tiny_zoo, capsys):
    data_main(["list"])
    out = capsys.readouterr().out
    assert "hopper-medium-expert" in out and "can be made" in out and "no zoo policy yet" in out


def test_made_datasets_carry_their_checksum_and_verify_against_the_published_one(tiny_zoo, monkeypatch, capsys):
    import h5py

    from ramac.zoo import checksums
    from ramac.zoo.datasets import dataset_checksum, read_arrays, read_provenance

    path = registry.make_dataset("hopper-medium", 300, seed=1, workers=1)
    record = read_provenance(path)
    assert "-zoo-g2-" in path.name and record["generation"] == 2
    assert record["sha256"] == dataset_checksum(read_arrays(path)) and "published_sha256" not in record
    data_main(["verify", str(path)])
    assert "nothing published to compare with" in capsys.readouterr().out
    entry = {"env_id": "Hopper-v5", "dataset": "medium", "generation": 2, "seed": 1, "rows": 300,
             "zoo_version": registry.zoo_version("Hopper-v5"), "sha256": record["sha256"]}
    monkeypatch.setattr(checksums, "_entries", lambda: (entry,))
    data_main(["verify", str(path)])
    assert "matches the published checksum (generation 2)" in capsys.readouterr().out
    monkeypatch.setattr(checksums, "_entries", lambda: ({**entry, "sha256": "0" * 64},))
    with pytest.raises(SystemExit) as stop:
        data_main(["verify", str(path)])
    assert stop.value.code == 1 and "DIFFERS from the published 000000000000" in capsys.readouterr().out
    monkeypatch.setattr(checksums, "_entries", lambda: (entry,))
    with h5py.File(path, "r+") as handle:
        handle["rewards"][0] += 1.0
    with pytest.raises(SystemExit):
        data_main(["verify", str(path)])
    assert "the file is damaged" in capsys.readouterr().out
    old = registry.make_dataset("hopper-medium", 300, seed=1, workers=1, generation=1)
    assert "-g2-" not in old.name and read_provenance(old)["generation"] == 1
    assert not np.array_equal(read_arrays(old)["actions"], read_arrays(path)["actions"])
