"""DDP with two CPU processes (gloo) through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch


def test_two_process_ddp_keeps_ranks_identical_and_draws_different_batches(repo_root, tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(repo_root, "tests"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ramac", "fit", "--config", os.path.join(repo_root, "conf", "bandit.yaml"),
           "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
           "--trainer.max_steps", "12", "--trainer.default_root_dir", str(tmp_path / "run"),
           "--trainer.enable_progress_bar", "false", "--model.init_args.diffusion_steps", "3",
           "--model.init_args.n_quantiles", "4", "--data.init_args.batch_size", "64",
           "--data.init_args.dataset_size", "512", "--model.init_args.risk_warmup_iterations", "4",
           "--trainer.callbacks+=helpers.ddp_probe.RankProbe", "--trainer.callbacks.out_dir", str(tmp_path)]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert all(r["world_size"] == 2 and r["iteration"] == 12 for r in ranks)
    assert all(r["batch_size"] == 32 for r in ranks)  # the global batch of 64 is split over 2 ranks
    # gradients are averaged, so every parameter (targets and EMA included) stays identical
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name
    # each rank draws its own minibatches
    assert ranks[0]["batch_sums"] != ranks[1]["batch_sums"]
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    assert (tmp_path / "run" / "bandit.png").exists()


def test_ddp_locomotion_run_with_uneven_evaluation_split(repo_root, tmp_path):
    import json

    import numpy as np
    from helpers.d4rl_files import rollout_arrays, write_d4rl_file

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=8, max_steps=30), dtype=np.float64)
    env = dict(os.environ, PYTHONPATH=os.path.join(repo_root, "tests"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ramac", "fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"),
           "--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp",
           "--trainer.max_steps", "6", "--trainer.default_root_dir", str(tmp_path / "run"),
           "--trainer.enable_progress_bar", "false", "--model.diffusion_steps", "3", "--model.n_quantiles", "4",
           "--data.batch_size", "32", "--data.source", "file", "--data.path", str(path),
           "--trainer.callbacks.every_n_iterations", "3", "--trainer.callbacks.episodes", "3",
           "--trainer.callbacks.horizon", "30"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((tmp_path / "run" / "eval.json").read_text())["history"]
    assert [h["iteration"] for h in history] == [3.0, 6.0]
    assert all(h["episodes"] == 3.0 for h in history)  # 2 + 1 episodes gathered from the two ranks


TINY_CLI = {  # per learner: the options that make its bandit run tiny
    "bc": ["--model.init_args.diffusion_steps", "3", "--model.init_args.actor_hidden_dim", "16"],
    "codac": ["--model.init_args.hidden_dim", "16", "--model.init_args.n_quantiles", "4",
              "--model.init_args.n_action_samples", "3", "--model.init_args.automatic_entropy", "true"],
    "cql": ["--model.init_args.hidden_dim", "16", "--model.init_args.hidden_layers", "2",
            "--model.init_args.n_action_samples", "3", "--model.init_args.lagrange_threshold", "1.0"],
    "diffusion_ql": ["--model.init_args.diffusion_steps", "3", "--model.init_args.actor_hidden_dim", "16",
                     "--model.init_args.critic_hidden_dim", "16"],
    "fql": ["--model.init_args.hidden_dim", "16", "--model.init_args.hidden_layers", "2",
            "--model.init_args.flow_steps", "3"],
    "oraac": ["--model.init_args.prior_hidden_dim", "16", "--model.init_args.critic_hidden_dim", "16",
              "--model.init_args.n_quantiles", "4", "--model.init_args.actor_hidden_dims", "[16, 16]"],
    "rafmac": ["--model.init_args.n_quantiles", "4", "--model.init_args.critic_hidden_dim", "16",
               "--model.init_args.actor_hidden_dim", "16", "--model.init_args.flow_steps", "3"],
}


@pytest.mark.parametrize("algo", sorted(TINY_CLI))
def test_every_learner_keeps_ddp_ranks_identical(repo_root, tmp_path, algo):
    """The contract's DDP check for each learner: two CPU processes, the same parameters at the end (gradients
    averaged over ranks), different batches per rank."""
    env = dict(os.environ, PYTHONPATH=os.path.join(repo_root, "tests"), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "ramac", "fit", "--algo", algo, "--task", "bandit", "--conf_dir",
           os.path.join(repo_root, "conf"), "--trainer.accelerator", "cpu", "--trainer.devices", "2",
           "--trainer.strategy", "ddp", "--trainer.max_steps", "6", "--trainer.default_root_dir",
           str(tmp_path / "run"), "--trainer.enable_progress_bar", "false", "--data.init_args.batch_size", "64",
           "--data.init_args.dataset_size", "512", *TINY_CLI[algo],
           "--trainer.callbacks+=helpers.ddp_probe.RankProbe", "--trainer.callbacks.out_dir", str(tmp_path)]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    assert all(r["world_size"] == 2 and r["iteration"] == 6 for r in ranks)
    for name, value in ranks[0]["state"].items():
        assert torch.equal(value, ranks[1]["state"][name]), name
    assert ranks[0]["batch_sums"] != ranks[1]["batch_sums"]


def _fit(repo_root, tmp_path, name, config, extra, devices):
    env = dict(os.environ, PYTHONPATH=os.path.join(repo_root, "tests"), OMP_NUM_THREADS="1")
    split = ["--trainer.accelerator", "cpu", "--trainer.devices", "2", "--trainer.strategy", "ddp"] if devices == 2 \
        else []
    cmd = [sys.executable, "-m", "ramac", "fit", "--config", os.path.join(repo_root, "conf", config),
           "--trainer.default_root_dir", str(tmp_path / name), "--trainer.enable_progress_bar", "false", *extra, *split]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def test_members_split_over_two_processes_equal_members_in_one(repo_root, tmp_path):
    """Three members on two CPU processes (2 + 1): the run's checkpoint, and each member's bandit report, metrics
    and exported checkpoint, equal those of the same members trained in one process."""
    extra = ["--members", "3", "--trainer.max_steps", "30", "--trainer.log_every_n_steps", "10",
             "--checkpoint.every_n_train_steps", "20", "--model.init_args.risk_warmup_iterations", "10",
             "--model.init_args.diffusion_steps", "3", "--model.init_args.n_quantiles", "4",
             "--data.init_args.dataset_size", "512"]
    for name, devices in (("one", 1), ("split", 2)):
        _fit(repo_root, tmp_path, name, "bandit.yaml", extra, devices)
    one, split = (torch.load(tmp_path / n / "checkpoints" / "last.ckpt", weights_only=False) for n in ("one", "split"))
    assert one["global_step"] == split["global_step"] == 30
    for key, value in one["state_dict"].items():
        assert torch.equal(value, split["state_dict"][key]), key
    for a, b in zip(one["optimizer_states"], split["optimizer_states"], strict=True):
        for index, state in a["state"].items():
            assert all(torch.equal(v, b["state"][index][k]) for k, v in state.items())
    for seed in ("seed0", "seed1", "seed2"):
        for file in ("bandit.json", "lightning_logs/version_0/metrics.csv"):
            assert (tmp_path / "one" / seed / file).read_text() == (tmp_path / "split" / seed / file).read_text()
        a, b = (torch.load(tmp_path / n / seed / "checkpoints" / "last.ckpt", weights_only=False)
                for n in ("one", "split"))
        assert all(torch.equal(v, b["state_dict"][k]) for k, v in a["state_dict"].items())


def test_members_split_over_two_processes_evaluate_each_member_whole(repo_root, tmp_path):
    import json

    import numpy as np
    from helpers.d4rl_files import rollout_arrays, write_d4rl_file

    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=8, max_steps=30), dtype=np.float64)
    extra = ["--members", "2", "--trainer.max_steps", "6", "--model.diffusion_steps", "3", "--model.n_quantiles",
             "4", "--data.batch_size", "32", "--data.source", "file", "--data.path", str(path),
             "--trainer.callbacks.every_n_iterations", "3", "--trainer.callbacks.episodes", "3",
             "--trainer.callbacks.horizon", "30"]
    for name, devices in (("one", 1), ("split", 2)):
        _fit(repo_root, tmp_path, name, "hopper.yaml", extra, devices)
    for seed in ("seed0", "seed1"):
        one, split = (json.loads((tmp_path / n / seed / "eval.json").read_text()) for n in ("one", "split"))
        assert one == split and [h["episodes"] for h in one["history"]] == [3.0, 3.0]
