"""Soft actor-critic (Haarnoja et al. 2018, with automatic entropy tuning) for behaviour policies.

A lean implementation, chosen by measurement over stable-baselines3 on this project's CPUs (~50 vs ~42 env
steps/s on one thread; BENCHMARKS.md "Behaviour data"). Training saves and resumes
everything: networks, optimisers, the entropy coefficient, the replay buffer, the step counters and all
random states (torch, the replay sampler, the exploration generator and the environment's ``np_random``).
Resume checkpoints are written at episode boundaries, so a resumed run repeats an uninterrupted one exactly.

Defaults follow the common MuJoCo SAC settings (two 256-unit hidden layers, lr 1e-3 for actor and critics
as in Tianshou's MuJoCo benchmark, γ = 0.99, τ = 0.005, batch 256, 10 000 uniform-random warm-up steps,
one update per environment step, target entropy −|A|).
"""

from __future__ import annotations

import csv
import json
import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor, nn

from ramac.actors.tanh_gaussian import TanhGaussianActor
from ramac.nn.mlp import mlp
from ramac.training.averaging import soft_update_


@dataclass
class SACConfig:
    env_id: str = "Hopper-v5"
    total_steps: int = 1_000_000
    seed: int = 0
    hidden_dim: int = 256
    actor_lr: float = 1e-3
    critic_lr: float = 1e-3
    alpha_lr: float = 3e-4
    discount: float = 0.99
    target_update_rate: float = 0.005
    batch_size: int = 256
    random_steps: int = 10_000
    eval_every: int = 10_000
    eval_episodes: int = 10
    snapshot_every: int = 10_000
    checkpoint_every: int = 10_000


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, action_dim: int) -> None:
        self.capacity, self.size = capacity, 0
        self.data = {
            "obs": np.zeros((capacity, obs_dim), np.float32), "act": np.zeros((capacity, action_dim), np.float32),
            "rew": np.zeros(capacity, np.float32), "next": np.zeros((capacity, obs_dim), np.float32),
            "term": np.zeros(capacity, np.float32), "end": np.zeros(capacity, np.float32),
        }

    def add(self, obs: np.ndarray, act: np.ndarray, rew: float, nxt: np.ndarray, term: bool, end: bool) -> None:
        i = self.size
        if i >= self.capacity:
            raise RuntimeError(f"replay buffer full ({self.capacity}); raise total_steps")
        for key, value in (("obs", obs), ("act", act), ("rew", rew), ("next", nxt), ("term", term), ("end", end)):
            self.data[key][i] = value
        self.size += 1

    def sample(self, batch: int, generator: torch.Generator) -> dict[str, Tensor]:
        idx = torch.randint(0, self.size, (batch,), generator=generator).numpy()
        return {k: torch.from_numpy(v[idx]) for k, v in self.data.items()}

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, size=self.size, **{k: v[: self.size] for k, v in self.data.items()})
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        with np.load(path) as saved:
            self.size = int(saved["size"])
            for key in self.data:
                self.data[key][: self.size] = saved[key]


class SACTrainer:
    """Trains a SAC agent in ``out_dir`` (resumes from ``out_dir/checkpoint.pt`` when present)."""

    def __init__(self, config: SACConfig, out_dir: str | os.PathLike[str]) -> None:
        self.config, self.out = config, Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "snapshots").mkdir(exist_ok=True)
        self.env = gym.make(config.env_id)
        self.eval_env = gym.make(config.env_id)
        obs_dim = self.env.observation_space.shape[0]
        action_dim = self.env.action_space.shape[0]
        scale = float(np.max(np.abs(self.env.action_space.high)))
        torch.manual_seed(config.seed)
        self.actor = TanhGaussianActor(obs_dim, action_dim, scale, config.hidden_dim)
        self.critics = nn.ModuleList([mlp(obs_dim + action_dim, 1, config.hidden_dim) for _ in range(2)])
        self.targets = nn.ModuleList([mlp(obs_dim + action_dim, 1, config.hidden_dim) for _ in range(2)])
        self.targets.load_state_dict(self.critics.state_dict())
        self.targets.requires_grad_(False)
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.target_entropy = -float(action_dim)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=config.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=config.critic_lr)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=config.alpha_lr)
        self.buffer = ReplayBuffer(config.total_steps, obs_dim, action_dim)
        self.sample_gen = torch.Generator().manual_seed(config.seed + 1)
        self.explore = np.random.default_rng(config.seed + 2)
        self.step = 0
        self.episode = 0
        self.wall_offset = 0.0
        self._last_ckpt_block = -1  # checkpoint_every-blocks already checkpointed
        if (self.out / "checkpoint.pt").exists():
            self._load()
        else:
            (self.out / "config.json").write_text(json.dumps(asdict(config), indent=2))
            self.env.reset(seed=config.seed)  # seeds the env's np_random; episodes start from _start_episode
            self.env.action_space.seed(config.seed)

    # -- update ------------------------------------------------------------------------------------
    def _q(self, nets: nn.ModuleList, obs: Tensor, act: Tensor) -> Tensor:  # [2, B]
        x = torch.cat((obs, act), -1)
        return torch.stack([net(x).squeeze(-1) for net in nets])

    def update(self) -> dict[str, Tensor]:
        cfg = self.config
        batch = self.buffer.sample(cfg.batch_size, self.sample_gen)
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_act, next_logp = self.actor(batch["next"], self.sample_gen)
            target_q = self._q(self.targets, batch["next"], next_act).amin(0) - alpha * next_logp
            target = batch["rew"] + cfg.discount * (1 - batch["term"]) * target_q
        critic_loss = (self._q(self.critics, batch["obs"], batch["act"]) - target).square().mean(1).sum()
        self.critic_opt.zero_grad()
        critic_loss.backward()
        self.critic_opt.step()
        act, logp = self.actor(batch["obs"], self.sample_gen)
        q = self._q(self.critics, batch["obs"], act).amin(0)
        actor_loss = (alpha * logp - q).mean()
        self.actor_opt.zero_grad()
        actor_loss.backward()
        self.actor_opt.step()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad()
        alpha_loss.backward()
        self.alpha_opt.step()
        soft_update_(self.targets, self.critics, cfg.target_update_rate)
        return {"critic_loss": critic_loss.detach(), "actor_loss": actor_loss.detach(), "alpha": alpha}

    # -- loop -------------------------------------------------------------------------------------
    def evaluate(self) -> tuple[float, float]:
        returns = []
        for episode in range(self.config.eval_episodes):
            obs, _ = self.eval_env.reset(seed=10_000 + episode)
            total, done = 0.0, False
            while not done:
                action = self.actor.act(torch.as_tensor(obs, dtype=torch.float32)[None])[0].numpy()
                obs, reward, terminated, truncated, _ = self.eval_env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        return float(np.mean(returns)), float(np.std(returns))

    def train(self, until: int | None = None) -> None:
        cfg = self.config
        until = cfg.total_steps if until is None else min(until, cfg.total_steps)
        start = time.time() - self.wall_offset
        obs, _ = self.env.reset()
        while self.step < until:
            if self.step < cfg.random_steps:
                action = self.explore.uniform(self.env.action_space.low, self.env.action_space.high)
            else:
                action = self.actor.act(torch.as_tensor(obs, dtype=torch.float32)[None], deterministic=False,
                                        generator=self.sample_gen)[0].numpy()
            nxt, reward, terminated, truncated, _ = self.env.step(action)
            self.buffer.add(obs, action, float(reward), nxt, terminated, terminated or truncated)
            obs = nxt
            self.step += 1
            if self.step >= cfg.random_steps:
                self.update()
            if self.step % cfg.snapshot_every == 0:
                self._snapshot()
            if self.step % cfg.eval_every == 0:
                self._log(start, *self.evaluate())
            if terminated or truncated:
                self.episode += 1
                if self.step // cfg.checkpoint_every > self._last_ckpt_block or self.step >= until:
                    self.wall_offset = time.time() - start
                    self._save()
                obs, _ = self.env.reset()
        # Stopping mid-episode leaves the checkpoint of the last episode end as the resume point: a
        # mid-episode MuJoCo state is not saved, so resuming from there could not be exact.

    # -- persistence ------------------------------------------------------------------------------
    def _snapshot(self) -> None:
        torch.save(self.actor.state_dict(), self.out / "snapshots" / f"actor_{self.step:07d}.pt")

    def _log(self, start: float, mean: float, std: float) -> None:
        path = self.out / "eval.csv"
        new = not path.exists()
        with open(path, "a", newline="") as handle:
            writer = csv.writer(handle)
            if new:
                writer.writerow(["step", "return_mean", "return_std", "wall_s", "rss_mb"])
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            writer.writerow([self.step, f"{mean:.2f}", f"{std:.2f}", f"{time.time() - start:.0f}", f"{rss:.0f}"])

    def state(self) -> dict[str, Any]:
        return {
            "step": self.step, "episode": self.episode, "wall_offset": self.wall_offset,
            "actor": self.actor.state_dict(), "critics": self.critics.state_dict(),
            "targets": self.targets.state_dict(), "log_alpha": self.log_alpha.detach().clone(),
            "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
            "alpha_opt": self.alpha_opt.state_dict(), "sample_gen": self.sample_gen.get_state(),
            "torch_rng": torch.get_rng_state(), "explore": self.explore.bit_generator.state,
            "env_rng": self.env.unwrapped.np_random.bit_generator.state,
            "action_space_rng": self.env.action_space.np_random.bit_generator.state,
            "config": asdict(self.config),
        }

    def _save(self) -> None:
        self._last_ckpt_block = self.step // self.config.checkpoint_every
        self.buffer.save(self.out / "replay.npz")
        tmp = self.out / "checkpoint.pt.tmp"
        torch.save(self.state(), tmp)
        os.replace(tmp, self.out / "checkpoint.pt")

    def _load(self) -> None:
        state = torch.load(self.out / "checkpoint.pt", weights_only=False)
        if state["config"]["env_id"] != self.config.env_id or state["config"]["seed"] != self.config.seed:
            raise ValueError(f"{self.out}/checkpoint.pt was trained with {state['config']['env_id']} seed "
                             f"{state['config']['seed']}, not {self.config.env_id} seed {self.config.seed}")
        self.step, self.episode, self.wall_offset = state["step"], state["episode"], state["wall_offset"]
        self._last_ckpt_block = self.step // self.config.checkpoint_every
        self.actor.load_state_dict(state["actor"])
        self.critics.load_state_dict(state["critics"])
        self.targets.load_state_dict(state["targets"])
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.alpha_opt.load_state_dict(state["alpha_opt"])
        self.sample_gen.set_state(state["sample_gen"])
        torch.set_rng_state(state["torch_rng"])
        self.explore.bit_generator.state = state["explore"]
        self.env.reset(seed=self.config.seed)  # creates np_random, then overwritten with the saved state
        self.env.unwrapped.np_random.bit_generator.state = state["env_rng"]
        self.env.action_space.np_random.bit_generator.state = state["action_space_rng"]
        self.buffer.load(self.out / "replay.npz")
        # the buffer is written before the checkpoint and only grows, so after a crash between the two
        # writes its first `step` rows are still exactly the checkpoint's
        if self.buffer.size < self.step:
            raise ValueError(f"{self.out}/replay.npz holds {self.buffer.size} rows but the checkpoint is at step "
                             f"{self.step}: the files do not belong together")
        self.buffer.size = self.step
        log = self.out / "eval.csv"
        if log.exists():  # forget evaluations made after the checkpoint; they are repeated
            rows = log.read_text().splitlines()
            kept = [rows[0]] + [r for r in rows[1:] if int(r.split(",")[0]) <= self.step]
            log.write_text("\n".join(kept) + "\n")
