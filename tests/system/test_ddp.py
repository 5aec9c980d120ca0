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
