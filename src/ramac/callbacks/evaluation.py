"""Periodic evaluation in the hazard-wrapped env: return CVaR, hazard rate, normalised score, OOD rate."""

from __future__ import annotations

import json
import os
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from ramac.data.locomotion import StochasticD4RLDataModule
from ramac.evaluation.evaluate import evaluate_learner
from ramac.evaluation.ood import NearestNeighbourOOD
from ramac.evaluation.rollout import EnvPool
from ramac.learners.members import Members, member_checkpoint, members_of
from ramac.tasks import env_facts


class RolloutEvaluation(pl.Callback):
    """Every ``every_n_iterations`` iterations and at the end, runs ``episodes`` episodes in the task's
    hazard-wrapped gymnasium v5 env, all stepping together (the policy acts on the batch in one call).

    Episodes are split across DDP ranks; the figures are computed over all of them. Episode ``i`` of
    every evaluation resets with seed ``seed + i`` (distinct from the training seed), and the policy's
    sampling noise comes from a generator seeded with ``seed``, so an evaluation is deterministic.
    Metrics (``eval/*``) go to every logger and to ``trainer.callback_metrics`` (so a ``ModelCheckpoint``
    can monitor them); ``eval.json`` and ``eval.png`` are written into ``trainer.default_root_dir``. In a members
    run (:mod:`ramac.learners.members`) each member is evaluated as its solo run would be, with the same episodes and
    policy seed, its figures go to its own CSV log (``seed<s>/eval/*`` in the run's loggers) and its ``eval.json`` and
    ``eval.png`` into its own folder.

    Args:
        episodes: episodes per evaluation (the paper: 10).
        every_n_iterations: evaluation period in learner iterations (the paper: 50 000).
        horizon: episode length limit (default 200 for HalfCheetah, 500 for Hopper/Walker2d, as in the
            paper; 1000 for D4RL-normalised scores comparable with the literature).
        seed: first evaluation seed.
        cvar_alpha: level of the return CVaR.
        ood_neighbours, ood_kappa: the OOD detector's k and κ (``ramac.evaluation.ood``); ``ood_kappa=0``
            switches the OOD rate off.
        ood_max_actions: score the OOD rate on a seeded uniform sample of this many visited actions (``None``: all
            of them; the rollouts do not change, ``ramac.evaluation.evaluate.evaluate_learner``).
        env_workers: groups of episodes stepped in parallel: the training process plus
            ``env_workers - 1`` worker processes, started once per run and kept with the environments
            between evaluations (``ramac.evaluation.rollout.EnvPool``).
        keep_checkpoints: also write the weights evaluated at each evaluation point,
            ``checkpoints/eval-<iteration>.ckpt`` in the run's (each member's) folder, for the checkpoint-selection
            protocols of ``ramac select`` (:mod:`ramac.experiments.selection`).
        at_iterations: further iterations to evaluate at besides the period's (e.g. densely after the risk term
            starts: ``[10010, 10020, 10050, 10100]``).
    """

    def __init__(self, episodes: int = 10, every_n_iterations: int = 50_000, horizon: int | None = None,
                 seed: int = 1_000_000, cvar_alpha: float = 0.1, ood_neighbours: int = 10,
                 ood_kappa: float = 3.0, env_workers: int = 1, ood_max_actions: int | None = None,
                 keep_checkpoints: bool = False, at_iterations: list[int] | None = None) -> None:
        if episodes < 1 or every_n_iterations < 1 or env_workers < 1:
            raise ValueError("RolloutEvaluation: episodes, every_n_iterations and env_workers must be >= 1")
        if at_iterations is not None and any(not isinstance(i, int) or i < 1 for i in at_iterations):
            raise ValueError(f"RolloutEvaluation: at_iterations must be iterations >= 1, got {at_iterations}")
        if ood_max_actions is not None and ood_max_actions < 1:
            raise ValueError(f"RolloutEvaluation: ood_max_actions must be >= 1 or None, got {ood_max_actions}")
        self.episodes, self.every, self.horizon, self.seed = episodes, every_n_iterations, horizon, seed
        self.cvar_alpha, self.ood_neighbours, self.ood_kappa = cvar_alpha, ood_neighbours, ood_kappa
        self.env_workers, self.ood_max_actions = env_workers, ood_max_actions
        self.keep_checkpoints = keep_checkpoints
        self.at_iterations = frozenset(at_iterations or ())
        # per evaluated learner (one, or each member), per evaluation: the figures and the episodes' returns
        self.histories: list[list[dict[str, Any]]] = [[]]
        self.detector: NearestNeighbourOOD | None = None
        self.pool: EnvPool | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        data = trainer.datamodule
        if not isinstance(data, StochasticD4RLDataModule):
            raise TypeError("RolloutEvaluation needs the StochasticD4RLDataModule (a locomotion task config)")
        self.env_key, self.env_id, self.hazard = data.env, data.env_id, data.hazard
        self.horizon_used = self.horizon or env_facts(data.env).eval_horizon
        local_episodes = self.episodes if _split(pl_module) else \
            len(range(trainer.global_rank, self.episodes, trainer.world_size))
        self.pool = EnvPool(self.env_id, self.hazard, self.horizon_used,
                            workers=min(self.env_workers, max(1, local_episodes)))
        if self.ood_kappa > 0:
            t = data.transitions
            self.detector = NearestNeighbourOOD(torch.from_numpy(t.observations), torch.from_numpy(t.actions),
                                                self.ood_neighbours, self.ood_kappa, device=pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if pl_module.iteration % self.every == 0 or pl_module.iteration in self.at_iterations:
            self.evaluate(trainer, pl_module)

    @property
    def history(self) -> list[dict[str, Any]]:
        """The evaluations of the run's learner (of the first member in a members run)."""
        return self.histories[0]

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.history or self.history[-1]["iteration"] != pl_module.iteration:
            self.evaluate(trainer, pl_module)
        if trainer.is_global_zero:
            for (_, root), history in zip(members_of(pl_module, trainer.default_root_dir), self.histories,
                                          strict=True):
                self._write(root, history)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def evaluate(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[dict[str, float]]:
        """Evaluate the run's learner (each member of a members run, one after another); returns the figures of
        each. Members split over processes are each evaluated whole on their own process, then gathered."""
        if self.pool is None:
            raise RuntimeError("RolloutEvaluation.evaluate called outside fit (no environments)")
        learners = members_of(pl_module, trainer.default_root_dir)
        while len(self.histories) < len(learners):
            self.histories.append([])
        if _split(pl_module):
            rank, world, mine = 0, 1, pl_module.owned()
        else:
            rank, world, mine = trainer.global_rank, trainer.world_size, list(range(len(learners)))
        seeds = [self.seed + i for i in range(rank, self.episodes, world)]
        figures = {k: evaluate_learner(learners[k][0], self.env_key, self.pool, seeds, self.detector, self.cvar_alpha,
                                       policy_seed=self.seed + rank, ood_max_actions=self.ood_max_actions,
                                       synchronise=not _split(pl_module)) for k in mine}
        if isinstance(pl_module, Members):
            figures = pl_module.gather_objects(figures)
        every = []
        for k in range(len(learners)):
            values = {**figures[k], "iteration": float(pl_module.iteration)}
            self.histories[k].append(values)
            every.append(values)
            logged = {f"eval/{key}": v for key, v in values.items() if key not in ("iteration", "returns")}
            if isinstance(pl_module, Members):
                if trainer.is_global_zero and pl_module.member_loggers:
                    pl_module.member_loggers[k].log_metrics(logged, step=trainer.global_step)
                    pl_module.member_loggers[k].save()
                logged = {f"{pl_module.seed_label(k)}/{key}": v for key, v in logged.items()}
            if trainer.is_global_zero:
                for logger in trainer.loggers:
                    logger.log_metrics(logged, step=trainer.global_step)
            # visible to ModelCheckpoint(monitor="eval/...") (Lightning runs checkpoint callbacks last)
            trainer.callback_metrics.update({key: torch.tensor(v) for key, v in logged.items()})
        if self.keep_checkpoints:
            self._keep(trainer, pl_module)
        first = every[0]
        trainer.progress_bar_metrics.update({"eval_return": round(first["return_mean"], 1),
                                             "eval_cvar": round(first[f"return_cvar_{self.cvar_alpha:g}"], 1)})
        return every

    def _keep(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """The weights just evaluated, as a weights-only checkpoint in the run's (each member's) folder (every rank
        takes part in the dump; rank 0 writes)."""
        name = f"eval-{int(pl_module.iteration):08d}.ckpt"
        checkpoint = trainer._checkpoint_connector.dump_checkpoint(weights_only=True)
        for k, (_, root) in enumerate(members_of(pl_module, trainer.default_root_dir)):
            own = member_checkpoint(checkpoint, k) if isinstance(pl_module, Members) else checkpoint
            trainer.strategy.save_checkpoint(own, os.path.join(root, "checkpoints", name))

    def state_dict(self) -> dict[str, Any]:
        if len(self.histories) == 1:
            return {"history": self.history}
        return {"members": [{"history": history} for history in self.histories]}  # members.callback_state_for_member

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "members" in state_dict:
            self.histories = [list(member.get("history", [])) for member in state_dict["members"]]
        else:
            self.histories = [list(state_dict.get("history", []))]

    def _write(self, root: str, history: list[dict[str, Any]]) -> None:
        os.makedirs(root, exist_ok=True)
        meta = {"env_id": self.env_id, "horizon": self.horizon_used, "episodes": self.episodes,
                "normalized_score": f"D4RL reference returns, {self.env_id}, horizon {self.horizon_used}"}
        temporary = os.path.join(root, "eval.json.tmp")
        with open(temporary, "w") as handle:  # written whole, then renamed: a sweep never reads half a result
            json.dump({"meta": meta, "history": history}, handle, indent=2)
        os.replace(temporary, os.path.join(root, "eval.json"))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        keys = ["return_mean", f"return_cvar_{self.cvar_alpha:g}", "risky_state_rate", "ood_action_rate"]
        keys = [k for k in keys if any(k in h for h in history)]
        fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.4), constrained_layout=True)
        iterations = np.array([h["iteration"] for h in history])
        for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
            ax.plot(iterations, [h.get(key, np.nan) for h in history], marker="o")
            ax.set(title=key.replace("_", " "), xlabel="iteration")
        fig.suptitle(f"{self.env_id} (hazard-wrapped), {self.episodes} episodes, horizon {self.horizon_used}")
        fig.savefig(os.path.join(root, "eval.png"), dpi=100)
        plt.close(fig)


def _split(module: pl.LightningModule) -> bool:
    return isinstance(module, Members) and module.split
