"""The behaviour-policy SAC trainer: learning signal and exact resume."""

from __future__ import annotations

import torch

from ramac.zoo.sac import SACConfig, SACTrainer

TINY = dict(env_id="Hopper-v5", total_steps=400, hidden_dim=32, batch_size=32, random_steps=100, eval_every=200,
            eval_episodes=2, snapshot_every=200, checkpoint_every=100)


def test_resume_repeats_the_uninterrupted_run(tmp_path):
    straight = SACTrainer(SACConfig(**TINY), tmp_path / "a")
    straight.train()
    first = SACTrainer(SACConfig(**TINY), tmp_path / "b")
    first.train(until=250)  # stops mid-way; the resume point is the last episode end after step 200
    resumed = SACTrainer(SACConfig(**TINY), tmp_path / "b")
    assert 100 <= resumed.step <= 250 and resumed.buffer.size == resumed.step
    resumed.train()
    for name, value in straight.state().items():
        if isinstance(value, dict) and name in ("actor", "critics", "targets"):
            for key, tensor in value.items():
                assert torch.equal(tensor, resumed.state()[name][key]), (name, key)
    assert torch.equal(straight.log_alpha, resumed.log_alpha)
    assert straight.step == resumed.step == 400
    assert (tmp_path / "a" / "eval.csv").read_text() .splitlines()[1].split(",")[:3] == \
        (tmp_path / "b" / "eval.csv").read_text().splitlines()[1].split(",")[:3]
    assert sorted(p.name for p in (tmp_path / "b" / "snapshots").iterdir()) == ["actor_0000200.pt", "actor_0000400.pt"]


def test_make_is_deterministic_and_readable(tmp_path):
    import h5py

    from ramac.cli.data import main as data_main
    from ramac.data.d4rl import d4rl_transitions, read_d4rl_file
    from ramac.zoo.datasets import read_provenance

    trainer = SACTrainer(SACConfig(**{**TINY, "total_steps": 200}), tmp_path / "agent")
    trainer.train()
    policy = tmp_path / "agent" / "snapshots" / "actor_0000200.pt"
    files = []
    for name in ("a", "b"):
        data_main(["rollout", "Hopper-v5", "--policy", str(policy), "--size", "700", "--seed", "3",
                   "--out", str(tmp_path / f"{name}.hdf5")])
        files.append(tmp_path / f"{name}.hdf5")
    with h5py.File(files[0]) as a, h5py.File(files[1]) as b:
        for key in ("observations", "actions", "rewards", "terminals", "timeouts"):
            assert (a[key][()] == b[key][()]).all(), key
    raw = read_d4rl_file(files[0])
    assert raw["observations"].shape == (700, 11) and raw["observations"].dtype.name == "float32"
    transitions = d4rl_transitions(raw, str(files[0]))
    assert len(transitions) == 699 - int(raw["timeouts"][:699].sum())
    assert read_provenance(files[0])["env_id"] == "Hopper-v5"
