"""The online phase (``ramac.callbacks.online``) in real ``ramac fit`` runs on the bandit: the risk accounting and the
buffer against a hand-made environment, exact resume mid-phase, the start from an offline checkpoint, the moved
options, and one-line errors."""

from __future__ import annotations

import json
import os
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers.d4rl_files import rollout_arrays, write_d4rl_file
from helpers.tiny import SMALL_BANDIT_ARGS as SMALL

from ramac.callbacks.online import OnlinePhase
from ramac.cli import console
from ramac.cli.fit import build_cli, main
from ramac.data.online import linear_anneal


def args(repo_root: str, root: Any, steps: int, *extra: str) -> list[str]:
    return ["--config", os.path.join(repo_root, "conf", "bandit.yaml"), *SMALL, "--trainer.max_steps", str(steps),
            "--trainer.default_root_dir", str(root), *extra]


def fit(repo_root: str, root: Any, steps: int, *extra: str) -> None:
    main(["fit", *args(repo_root, root, steps, *extra)])


class StepCounter(gym.Env):
    """A hand-made environment: in the episode reset with seed ``s``, step ``t`` (from 0) observes ``[t + 1, s % 5]``
    and pays ``s % 7 + t``, minus a penalty of 50 at ``t = 2``; the episode terminates after step 3 when ``s`` is odd
    and is truncated after step 4 otherwise."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(2,))
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(2,))

    def __init__(self) -> None:
        self.t, self.seed_value = 0, 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t, self.seed_value = 0, int(seed or 0)
        return np.array([0.0, self.seed_value % 5]), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        assert action.shape == (2,) and np.all(np.abs(action) <= 1.0)
        penalty = self.t == 2
        reward = self.seed_value % 7 + self.t - (50.0 if penalty else 0.0)
        terminated = self.seed_value % 2 == 1 and self.t == 3
        truncated = not terminated and self.t == 4
        self.t += 1
        return (np.array([float(self.t), self.seed_value % 5]), reward, terminated, truncated,
                {"hazard_penalty": penalty, "risky_state": penalty})

    def snapshot(self) -> dict[str, int]:
        return {"t": self.t, "seed": self.seed_value}

    def restore(self, state: dict[str, int]) -> None:
        self.t, self.seed_value = state["t"], state["seed"]


def expected_episode(seed: int) -> dict[str, Any]:
    length = 4 if seed % 2 else 5
    rewards = [seed % 7 + t - (50.0 if t == 2 else 0.0) for t in range(length)]
    return {"return": sum(rewards), "length": length, "penalties": 1, "terminated": bool(seed % 2)}


def test_penalties_episodes_and_buffer_rows_against_a_hand_made_environment(repo_root, tmp_path, monkeypatch):
    monkeypatch.setattr(OnlinePhase, "make_envs", lambda self, data: [StepCounter() for _ in range(self.options.envs)])
    cli = build_cli(args(repo_root, tmp_path / "run", 12, "--online", "{envs: 2, capacity: 100}",
                         "--data.init_args.reward_scale", "2.0", "--model.init_args.target_clip", "[-600, 600]"),
                    run=False)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    phase = next(c for c in cli.trainer.callbacks if isinstance(c, OnlinePhase))
    assert len(phase.steps) == 24  # 12 iterations × 2 environments × 1 step
    for episode in phase.episodes:
        assert {k: episode[k] for k in ("return", "length", "penalties", "terminated")} == \
            expected_episode(episode["seed"]), episode
    finished = len(phase.episodes)
    assert finished >= 4
    penalties_in_steps = sum(row[4] for row in phase.steps)
    assert penalties_in_steps == sum(1 for row in phase.steps if row[3] < -40)  # every -50 step, nothing else
    metrics = phase.metrics(cli.model)
    assert metrics["online/penalties"] == penalties_in_steps
    assert metrics["online/terminations"] == sum(e["terminated"] for e in phase.episodes)
    assert metrics["online/episodes"] == finished and metrics["online/env_steps"] == 24
    last = [e["return"] for e in phase.episodes]
    assert metrics["online/return_mean_last100"] == pytest.approx(np.mean(last))
    assert metrics["online/return_cvar_0.1_last100"] == pytest.approx(min(last))  # ceil(0.1 n) = 1 of < 10
    # the buffer: each step's (s, a, r·c, s', terminated) in step order (2 environments per policy call)
    rows = phase.buffer.rows[: phase.buffer.size]
    obs, actions, rewards, next_obs, terminals = rows.split([2, 2, 1, 2, 1], dim=1)
    step_rewards = torch.tensor([row[3] for row in phase.steps], dtype=torch.float32)
    assert torch.equal(rewards.squeeze(1), 2.0 * step_rewards)
    assert torch.equal(terminals.squeeze(1), torch.tensor([float(row[6]) for row in phase.steps]))
    assert torch.equal(next_obs[:, 0], obs[:, 0] + 1) and torch.equal(next_obs[:, 1], obs[:, 1])  # t → t + 1
    assert bool((actions.abs() <= 1).all())
    written = json.loads((tmp_path / "run" / "online.json").read_text())
    assert written["episodes"] == phase.episodes and written["start_iteration"] == 0
    assert len((tmp_path / "run" / "online_steps.csv").read_text().splitlines()) == 25


def test_a_run_resumed_mid_phase_ends_exactly_as_an_uninterrupted_one(repo_root, tmp_path):
    online = ["--online", "{envs: 2, offline_fraction_anneal_iterations: 20, capacity: 200}"]
    fit(repo_root, tmp_path / "straight", 30, *online)
    fit(repo_root, tmp_path / "resumed", 20, *online)
    fit(repo_root, tmp_path / "resumed", 30, *online, "--ckpt_path", "last")
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=False)
    for name, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][name]), name
    for name in ("online.json", "online_steps.csv", "bandit.json"):
        assert (tmp_path / "straight" / name).read_text() == (tmp_path / "resumed" / name).read_text(), name
    state = a["callbacks"]["OnlinePhase"]
    assert torch.equal(state["buffer"]["rows"], b["callbacks"]["OnlinePhase"]["buffer"]["rows"])
    assert state["buffer"]["rows"].shape[0] == 60


def test_the_phase_starts_where_an_offline_checkpoint_ended_and_moves_the_options(repo_root, tmp_path):
    fit(repo_root, tmp_path / "run", 10)
    fit(repo_root, tmp_path / "run", 20, "--ckpt_path", "last", "--online",
        "{weights: {bc_weight: 0.0, risk_weight: 2.5}, weights_anneal_iterations: 8, offline_fraction: 0.25}")
    written = json.loads((tmp_path / "run" / "online.json").read_text())
    assert written["start_iteration"] == 10 and written["metrics"]["online/env_steps"] == 10
    assert written["metrics"]["online/bc_weight"] == 0.0 and written["metrics"]["online/risk_weight"] == 2.5
    assert linear_anneal(1.0, 0.0, 2, 8) == 0.75 and linear_anneal(0.5, 2.5, 4, 8) == 1.5
    assert linear_anneal(0.5, 2.5, 0, 0) == 2.5 and linear_anneal(0.5, 2.5, 9, 8) == 2.5


@pytest.mark.parametrize(("option", "message"), [
    ("{offline_fraction: 1.5}", "online.offline_fraction must be in [0, 1], got 1.5"),
    ("{envs: 0}", "online.envs must be >= 1, got 0"),
    ("{weights: {nope: 1.0}}", "online.weights: 'nope' is not a numeric option of RADAC"),
    ("{weights: {normalize_risk: 1.0}}", "online.weights: 'normalize_risk' is not a numeric option of RADAC"),
])
def test_bad_online_options_are_one_line_errors(repo_root, tmp_path, monkeypatch, capsys, option, message):
    monkeypatch.setattr("sys.argv", ["ramac", "fit", *args(repo_root, tmp_path / "run", 2, "--online", option)])
    with pytest.raises(SystemExit):
        console()
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1, error


def test_hopper_online_phase_normalises_the_online_observations_as_the_offline_ones(repo_root, tmp_path):
    """End to end on hopper (a D4RL-layout file, normalised observations, the released hazard): the online rows hold
    the environment's observations through the learner's normaliser and the hazard-wrapped rewards."""
    path = write_d4rl_file(tmp_path / "hopper.hdf5", rollout_arrays(episodes=10, max_steps=30))
    main(["fit", "--config", os.path.join(repo_root, "conf", "hopper.yaml"), "--trainer.max_steps", "12",
          "--trainer.enable_progress_bar", "false", "--model.init_args.diffusion_steps", "3",
          "--model.init_args.n_quantiles", "4", "--data.init_args.batch_size", "32",
          "--trainer.default_root_dir", str(tmp_path / "run"), "--data.init_args.source", "file",
          "--data.init_args.path", str(path), "--data.init_args.normalize_observations", "true",
          "--trainer.callbacks.every_n_iterations", "100", "--trainer.callbacks.episodes", "2",
          "--online", "{envs: 3, env_steps_per_update: 2, horizon: 8}"])
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    state = ckpt["callbacks"]["OnlinePhase"]
    rows = state["buffer"]["rows"]
    assert rows.shape == (72, 2 * 11 + 3 + 2)  # 12 iterations × 2 steps × 3 environments
    mean, std = ckpt["state_dict"]["obs_normalizer.mean"], ckpt["state_dict"]["obs_normalizer.std"]
    assert not torch.equal(std, torch.ones(11))
    steps = state["steps"]
    assert [row[4] for row in steps].count(True) == int(state["totals"][0])
    assert torch.equal(rows[:, 11 + 3], torch.tensor([row[3] for row in steps], dtype=torch.float32))
    # the first policy call acts on episodes 0-2's first observations (their reset seeds are recorded)
    episodes = sorted(json.loads((tmp_path / "run" / "online.json").read_text())["episodes"],
                      key=lambda e: e["episode"])
    assert [e["episode"] for e in episodes[:3]] == [0, 1, 2] and max(e["length"] for e in episodes) <= 8
    first = np.array([gym.make("Hopper-v5").reset(seed=e["seed"])[0] for e in episodes[:3]])
    assert torch.allclose(rows[:3, :11], (torch.tensor(first, dtype=torch.float32) - mean) / std)


def test_one_run_trains_offline_then_online_from_start_iteration_and_resumes_across_the_start(repo_root, tmp_path):
    online = ["--online", "{start_iteration: 15, envs: 2, capacity: 50}"]
    fit(repo_root, tmp_path / "straight", 25, *online)
    fit(repo_root, tmp_path / "resumed", 10, *online)  # its checkpoint is from before the phase
    fit(repo_root, tmp_path / "resumed", 20, *online, "--ckpt_path", "last")  # and this one from inside it
    fit(repo_root, tmp_path / "resumed", 25, *online, "--ckpt_path", "last")
    written = json.loads((tmp_path / "straight" / "online.json").read_text())
    assert written["start_iteration"] == 15 and written["metrics"]["online/env_steps"] == 20  # 10 iterations × 2
    assert {row.split(",")[0] for row in (tmp_path / "straight" / "online_steps.csv").read_text().splitlines()[1:]} \
        == {str(i) for i in range(15, 25)}
    a = torch.load(tmp_path / "straight" / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    for name, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][name]), name
    assert (tmp_path / "straight" / "online_steps.csv").read_text() == \
        (tmp_path / "resumed" / "online_steps.csv").read_text()
