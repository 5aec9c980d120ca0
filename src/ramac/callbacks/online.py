"""The online phase: offline-to-online fine-tuning in the task's hazard-wrapped environment, with the risk paid to
learn counted (issue 31; research note ``science-followups.md`` §3).

Before every learner iteration the policy acts ``env_steps_per_update`` times in ``envs`` environments stepped
together (the learner's ``act``, in eval mode, noise from a generator keyed by the run's seed and the iteration);
their transitions go into an :class:`~ramac.data.online.OnlineBuffer`, and the learner's batch comes from a
:class:`~ramac.data.online.MixedSampler`: ``round(f · B)`` offline rows and the rest online, ``f`` the offline
fraction (fixed, or annealed to 0). The learner's own update is unchanged. Options of the learner that the phase
moves (the BC weight annealed, the risk weight raised) are set on its ``hparams`` before each iteration, from their
values when the phase started to the configured ones.

The phase starts at ``start_iteration`` (one run trains offline, then online), or where training starts: 0 from
scratch, or the offline run's last iteration with ``--ckpt_path OFFLINE.ckpt`` (the checkpoint of an offline run has
no online state). Its whole state (the buffer,
each environment's simulator state and random generator, the episodes in progress, every step's record) is in the
checkpoint, so a resumed run continues exactly as an uninterrupted one.

What it records (every online step: reward, penalty, risky state, termination): ``online/*`` metrics at logging
iterations (cumulative environment steps, episodes, penalties, terminations, i.e. falls on locomotion, the mean and
CVaR of the last ``window`` episodes' returns, the offline fraction, the moved options) and, in the run's folder,
``online.json`` (the options, the start iteration, every episode) and ``online_steps.csv`` (every step), written whole
at each checkpoint and at the end. Periodic evaluation is :class:`~ramac.callbacks.evaluation.RolloutEvaluation`'s,
unchanged (its OOD rate is relative to the offline data).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import gymnasium as gym
import lightning.pytorch as pl
import numpy as np
import torch

from ramac.data.bandit import BanditDataModule
from ramac.data.locomotion import StochasticD4RLDataModule
from ramac.data.online import MixedSampler, OnlineBuffer, linear_anneal, offline_fraction_at
from ramac.envs.bandit import RiskyBanditEnv
from ramac.envs.snapshot import env_snapshot, restore_env_snapshot
from ramac.evaluation.metrics import lower_tail_mean
from ramac.evaluation.rollout import make_eval_env
from ramac.learners.base import OfflineLearner
from ramac.learners.members import Members
from ramac.tasks import env_facts
from ramac.training.rng import iteration_seed

#: the ``rank`` slot of :func:`~ramac.training.rng.iteration_seed` for the online phase's draws (policy noise,
#: episode seeds): far from any DDP rank, so its stream never meets the training stream
ONLINE_STREAM = 1 << 20
STEP_COLUMNS = ("iteration", "env", "episode", "reward", "penalty", "risky", "terminated", "truncated")


@dataclass(frozen=True)
class OnlineOptions:
    """The online phase (``ramac fit ... --online '{envs: 4}'``, or ``online:`` in a config). Defaults follow CORL's
    offline-to-online configs (research note ``science-followups.md`` §3): half of each batch offline, one
    environment step per update.

    Args:
        start_iteration: the iteration the phase starts at, so that one run trains offline then online; ``None``:
            where training starts (0, or the iteration of the checkpoint given to ``--ckpt_path``).
        envs: environments stepped together (the policy acts on all of them in one call).
        env_steps_per_update: policy steps per learner iteration, each in every environment (so
            ``envs · env_steps_per_update`` transitions per iteration).
        offline_fraction: share of each batch drawn from the offline data (1 − CORL's ``mixing_ratio``, which is
            the online share; 0.5 in its fine-tuning configs).
        offline_fraction_anneal_iterations: 0 keeps ``offline_fraction`` fixed; ``n`` anneals it linearly to 0 over
            the phase's first ``n`` iterations.
        weights: learner options moved during the phase, ``{option: final value}`` (e.g. ``{bc_weight: 0.1}`` to
            anneal RADAC's BC weight, ``{risk_weight: 0.2}`` to raise its risk weight); numeric options of the learner.
        weights_anneal_iterations: 0 sets ``weights`` when the phase starts; ``n`` moves each option linearly from its
            value at the start to the final value over the first ``n`` iterations.
        capacity: online buffer rows (oldest overwritten first); ``None``: every transition of the run.
        horizon: episode length limit; ``None``: the task's evaluation horizon (``ramac.tasks``; the bandit: 1).
        window: episodes in the running return statistics.
        cvar_alpha: level of the running return CVaR.
    """

    start_iteration: int | None = None
    envs: int = 1
    env_steps_per_update: int = 1
    offline_fraction: float = 0.5
    offline_fraction_anneal_iterations: int = 0
    weights: dict[str, float] = field(default_factory=dict)
    weights_anneal_iterations: int = 0
    capacity: int | None = None
    horizon: int | None = None
    window: int = 100
    cvar_alpha: float = 0.1

    def __post_init__(self) -> None:
        for name in ("envs", "env_steps_per_update", "window"):
            if getattr(self, name) < 1:
                raise ValueError(f"online.{name} must be >= 1, got {getattr(self, name)}")
        if self.start_iteration is not None and self.start_iteration < 0:
            raise ValueError(f"online.start_iteration must be >= 0 or null, got {self.start_iteration}")
        for name in ("offline_fraction_anneal_iterations", "weights_anneal_iterations"):
            if getattr(self, name) < 0:
                raise ValueError(f"online.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.offline_fraction <= 1.0:
            raise ValueError(f"online.offline_fraction must be in [0, 1], got {self.offline_fraction}")
        if self.capacity is not None and self.capacity < 1:
            raise ValueError(f"online.capacity must be >= 1 or null, got {self.capacity}")
        if self.horizon is not None and self.horizon < 1:
            raise ValueError(f"online.horizon must be >= 1 or null, got {self.horizon}")
        if not 0.0 < self.cvar_alpha <= 1.0:
            raise ValueError(f"online.cvar_alpha must be in (0, 1], got {self.cvar_alpha}")


class OnlinePhase(pl.Callback):
    """The online phase of a run (see the module docstring); built by ``ramac fit`` from ``--online``."""

    def __init__(self, options: OnlineOptions | None = None) -> None:
        self.options = options or OnlineOptions()
        self.envs: list[gym.Env] = []
        self.buffer: OnlineBuffer | None = None
        self.sampler: MixedSampler | None = None
        self._loaded: dict[str, Any] | None = None  # a checkpoint's state, applied when training starts
        self.start_iteration = 0
        self.start_weights: dict[str, float] = {}
        self.observations = np.zeros((0, 0))  # [k, O] raw observations the policy acts on next
        self.running = np.zeros((0, 4))  # per env: (return, length, penalties, risky steps) of its open episode
        self.episode_ids = np.zeros(0, dtype=np.int64)  # per env: index of its open episode
        self.episode_seeds = np.zeros(0, dtype=np.int64)
        self.next_episode = 0
        self.steps: list[tuple] = []  # one row per environment step, STEP_COLUMNS
        self.totals = np.zeros(3)  # penalties, risky steps, terminations since the phase started
        self.episodes: list[dict[str, Any]] = []  # finished episodes

    # -- set-up ------------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if isinstance(pl_module, Members):
            raise ValueError("online: the online phase trains one run; it is not supported with --members")
        if not isinstance(pl_module, OfflineLearner):
            raise TypeError(f"online: needs a ramac learner, got {type(pl_module).__name__}")
        if trainer.world_size > 1:
            raise ValueError("online: the online phase runs on one process; use --trainer.devices 1")
        data = trainer.datamodule
        self.envs = self.make_envs(data)
        self.reward_scale = data.reward_scale
        hparams = pl_module.hparams
        for name in self.options.weights:
            if not _numeric(hparams.get(name)):
                numeric = sorted(k for k, v in hparams.items() if _numeric(v))
                raise ValueError(f"online.weights: {name!r} is not a numeric option of {type(pl_module).__name__} "
                                 f"(its numeric options: {', '.join(numeric)})")

    def make_envs(self, data: Any) -> list[gym.Env]:
        """``envs`` environments of the task of ``data``: the hazard-wrapped locomotion environment with the phase's
        horizon, or the one-step bandit."""
        if isinstance(data, StochasticD4RLDataModule):
            horizon = self.options.horizon or env_facts(data.env).eval_horizon
            return [make_eval_env(data.env_id, data.hazard, horizon) for _ in range(self.options.envs)]
        if isinstance(data, BanditDataModule):
            return [RiskyBanditEnv(data.bandit) for _ in range(self.options.envs)]
        raise TypeError(f"online: needs a locomotion task or the bandit (data), got {type(data).__name__}")

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        assert isinstance(pl_module, OfflineLearner)
        if self.options.capacity is None and trainer.max_steps < 0:
            raise ValueError("online.capacity must be set when --trainer.max_steps is unbounded (-1)")
        if self._loaded is not None:  # resumed inside the phase
            self._begin(trainer, pl_module, int(self._loaded["start_iteration"]))
            self._restore(self._loaded)
            self._loaded = None
        elif pl_module.iteration >= (self.options.start_iteration or 0):
            self._begin(trainer, pl_module, pl_module.iteration)
            self._first_episodes(pl_module)

    def _begin(self, trainer: pl.Trainer, pl_module: OfflineLearner, start: int) -> None:
        """The phase's buffer and mixed sampler (in place of the learner's), for a phase starting at ``start``."""
        assert pl_module.sampler is not None
        options = self.options
        capacity = options.capacity or max(1, (trainer.max_steps - start) * options.envs * options.env_steps_per_update)
        sampler = pl_module.sampler.offline if isinstance(pl_module.sampler, MixedSampler) else pl_module.sampler
        self.buffer = OnlineBuffer(sampler.obs_dim, sampler.action_dim, capacity, pl_module.device)
        self.sampler = MixedSampler(sampler, self.buffer, options.offline_fraction)
        pl_module.sampler = self.sampler
        self.start_iteration = start
        for env in self.envs:
            env.reset(seed=0)  # gymnasium's order check; the episode's real start is set next or restored

    def _first_episodes(self, pl_module: OfflineLearner) -> None:
        """A fresh phase: the learner's options at the start, and the first episode of every environment."""
        self.start_weights = {name: float(pl_module.hparams[name]) for name in self.options.weights}
        k = len(self.envs)
        self.episode_ids = np.arange(k, dtype=np.int64)
        self.next_episode = k
        self.episode_seeds = np.array([self._episode_seed(pl_module, i) for i in range(k)], dtype=np.int64)
        self.observations = np.stack([env.reset(seed=int(seed))[0] for env, seed in
                                      zip(self.envs, self.episode_seeds, strict=True)]).astype(np.float64)
        self.running = np.zeros((k, 4))

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        for env in self.envs:
            env.close()
        self.envs = []

    # -- every iteration -----------------------------------------------------------------------
    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        assert isinstance(pl_module, OfflineLearner)
        options, iteration = self.options, pl_module.iteration
        if self.sampler is None:  # offline until the phase's start_iteration
            if iteration < (options.start_iteration or 0):
                return
            self._begin(trainer, pl_module, iteration)
            self._first_episodes(pl_module)
        assert self.sampler is not None
        step = iteration - self.start_iteration
        self.sampler.offline_fraction = offline_fraction_at(step, options.offline_fraction,
                                                            options.offline_fraction_anneal_iterations)
        for name, final in options.weights.items():
            pl_module.hparams[name] = linear_anneal(self.start_weights[name], final, step,
                                                    options.weights_anneal_iterations)
        generator = torch.Generator(device=pl_module.device)
        generator.manual_seed(iteration_seed(pl_module.seed, ONLINE_STREAM, iteration))
        was_training = pl_module.training
        pl_module.eval()
        try:
            for _ in range(options.env_steps_per_update):
                self._step(pl_module, iteration, generator)
        finally:
            pl_module.train(was_training)

    def _step(self, pl_module: OfflineLearner, iteration: int, generator: torch.Generator) -> None:
        """One policy call on every environment's observation, one step of each, the transitions into the buffer."""
        obs = torch.as_tensor(self.observations, dtype=torch.float32, device=pl_module.device)
        actions = pl_module.act(obs, generator).detach().float()  # [k, A]
        actions_np = actions.cpu().numpy()
        k = len(self.envs)
        next_obs, rewards = np.zeros_like(self.observations), np.zeros(k)
        terminals = np.zeros(k)
        for i, env in enumerate(self.envs):
            nxt, reward, terminated, truncated, info = env.step(actions_np[i])
            penalty, risky = bool(info.get("hazard_penalty", False)), bool(info.get("risky_state", False))
            next_obs[i], rewards[i], terminals[i] = nxt, reward, float(terminated)
            self.running[i] += (reward, 1.0, float(penalty), float(risky))
            self.totals += (float(penalty), float(risky), float(terminated))
            self.steps.append((iteration, i, int(self.episode_ids[i]), float(reward), penalty, risky,
                               bool(terminated), bool(truncated)))
            if terminated or truncated:
                total, length, penalties, risky_steps = self.running[i]
                self.episodes.append({"episode": int(self.episode_ids[i]), "env": i,
                                      "seed": int(self.episode_seeds[i]), "return": float(total),
                                      "length": int(length), "penalties": int(penalties),
                                      "risky_steps": int(risky_steps), "terminated": bool(terminated),
                                      "iteration": iteration, "env_steps": len(self.steps)})
                self.episode_ids[i] = self.next_episode
                self.episode_seeds[i] = self._episode_seed(pl_module, self.next_episode)
                self.next_episode += 1
                self.running[i] = 0.0
                nxt = env.reset(seed=int(self.episode_seeds[i]))[0]
            self.observations[i] = nxt
        normalise = pl_module.obs_normalizer
        device = pl_module.device
        assert self.buffer is not None
        self.buffer.append(normalise(obs), actions.to(device),
                           torch.as_tensor(rewards * self.reward_scale, dtype=torch.float32, device=device),
                           normalise(torch.as_tensor(next_obs, dtype=torch.float32, device=device)),
                           torch.as_tensor(terminals, dtype=torch.float32, device=device))

    @staticmethod
    def _episode_seed(pl_module: OfflineLearner, episode: int) -> int:
        """The reset seed of online episode ``episode`` (31 bits: what gymnasium's seeding takes everywhere)."""
        return iteration_seed(pl_module.seed, ONLINE_STREAM + 1, episode) >> 32

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        assert isinstance(pl_module, OfflineLearner)
        if self.sampler is None:
            return
        if pl_module.iteration % trainer.log_every_n_steps == 0 and trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(self.metrics(pl_module), step=trainer.global_step)

    def metrics(self, pl_module: OfflineLearner) -> dict[str, float]:
        """The ``online/*`` figures now: cumulative counts since the phase started, the last ``window`` episodes'
        return mean and CVaR, the offline fraction and the moved options."""
        penalties, risky, terminations = self.totals
        out = {"online/env_steps": float(len(self.steps)), "online/episodes": float(len(self.episodes)),
               "online/penalties": float(penalties), "online/risky_steps": float(risky),
               "online/terminations": float(terminations),
               "online/offline_fraction": float(self.sampler.offline_fraction if self.sampler else 0.0)}
        recent = [e["return"] for e in self.episodes[-self.options.window:]]
        if recent:
            returns = torch.tensor(recent, dtype=torch.float64)
            out[f"online/return_mean_last{self.options.window}"] = float(returns.mean())
            out[f"online/return_cvar_{self.options.cvar_alpha:g}_last{self.options.window}"] = float(
                lower_tail_mean(returns, self.options.cvar_alpha))
        for name in self.options.weights:
            out[f"online/{name}"] = float(pl_module.hparams[name])
        return out

    # -- files, checkpoints ----------------------------------------------------------------------
    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        if trainer.is_global_zero and self.sampler is not None:
            self.write(trainer.default_root_dir, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and self.sampler is not None:
            self.write(trainer.default_root_dir, pl_module)

    def write(self, root: str, pl_module: pl.LightningModule) -> None:
        """``online.json`` and ``online_steps.csv`` in ``root``, each written whole then renamed."""
        os.makedirs(root, exist_ok=True)
        assert isinstance(pl_module, OfflineLearner)
        summary = {"options": asdict(self.options), "start_iteration": self.start_iteration,
                   "iteration": pl_module.iteration, "metrics": self.metrics(pl_module), "episodes": self.episodes}
        _write_whole(os.path.join(root, "online.json"), json.dumps(summary, indent=1))
        lines = [",".join(STEP_COLUMNS)]
        lines += [f"{i},{e},{ep},{r!r},{int(p)},{int(k)},{int(t)},{int(u)}" for i, e, ep, r, p, k, t, u in self.steps]
        _write_whole(os.path.join(root, "online_steps.csv"), "\n".join(lines) + "\n")

    def state_dict(self) -> dict[str, Any]:
        if self.buffer is None:  # saved before the phase started: nothing to restore but the options
            return {"options": asdict(self.options)}
        return {"options": asdict(self.options), "start_iteration": self.start_iteration,
                "start_weights": dict(self.start_weights), "buffer": self.buffer.state_dict(),
                "envs": [env_snapshot(env) for env in self.envs],
                # arrays as tensors: checkpoints load with torch's weights_only (no NumPy objects)
                "observations": torch.from_numpy(self.observations.copy()),
                "running": torch.from_numpy(self.running.copy()), "totals": torch.from_numpy(self.totals.copy()),
                "episode_ids": torch.from_numpy(self.episode_ids.copy()),
                "episode_seeds": torch.from_numpy(self.episode_seeds.copy()), "next_episode": self.next_episode,
                "steps": list(self.steps), "episodes": list(self.episodes)}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        saved = OnlineOptions(**state_dict["options"])
        if saved != self.options:
            raise ValueError(f"the checkpoint's online phase ran with {saved}, this run is configured with "
                             f"{self.options}: resume with the same --online options")
        self._loaded = dict(state_dict) if "buffer" in state_dict else None

    def _restore(self, state: dict[str, Any]) -> None:
        if len(state["envs"]) != len(self.envs):
            raise ValueError(f"the checkpoint's online phase stepped {len(state['envs'])} environments, this run "
                             f"{len(self.envs)} (online.envs)")
        assert self.buffer is not None
        self.buffer.load_state_dict(state["buffer"])
        for env, snapshot in zip(self.envs, state["envs"], strict=True):
            restore_env_snapshot(env, snapshot)
        self.start_iteration, self.start_weights = int(state["start_iteration"]), dict(state["start_weights"])
        self.observations, self.running = state["observations"].numpy().copy(), state["running"].numpy().copy()
        self.episode_ids = state["episode_ids"].numpy().copy()
        self.episode_seeds = state["episode_seeds"].numpy().copy()
        self.totals, self.next_episode = state["totals"].numpy().copy(), int(state["next_episode"])
        self.steps, self.episodes = list(state["steps"]), list(state["episodes"])


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _write_whole(path: str, text: str) -> None:
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)
