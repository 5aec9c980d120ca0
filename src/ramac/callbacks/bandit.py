"""Fig. 3-style report for the 2-D risky bandit: ground truth, BC-only and the learner's samples.

The BC-only panel comes from a reference actor trained beside the learner: a copy, at initialisation, of the
actor the learner names in ``bc_reference()`` (RADAC's and Diffusion-QL's diffusion actor, FQL's and RAFMAC's BC
flow, BC's own actor), updated every iteration with its BC loss alone (RADAC/RAFMAC: ``bc_weight · L_BC``, the
actor loss at risk weight 0), the same optimiser settings, clipping and batch size, and its own random
stream. One ``ramac fit`` therefore produces the whole comparison; the reference's weights and
optimiser are part of the checkpoint, so a resumed run ends with the same figure.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from ramac.data.bandit import BanditDataModule
from ramac.envs.bandit import ELSEWHERE, RING, SAFE, RiskyBandit
from ramac.learners.base import BCReference
from ramac.learners.members import Members, members_of
from ramac.training.gradients import clip_grad_norm_
from ramac.training.rng import iteration_seed

_REFERENCE_STREAM = 7_919  # offsets the reference's seed from the learner's
CVAR_ALPHA = 0.1  # the level of the sampled rewards' CVaR in bandit.json (the paper's CVaR₀.₁)


class BanditReport(pl.Callback):
    """Trains the BC-only reference and writes ``bandit.png`` and ``bandit.json`` when fitting ends.

    Args:
        num_samples: actions drawn from each policy for the figure and the safe-centre fractions.
        filename: PNG name inside ``trainer.default_root_dir`` (the JSON gets the same stem).
        sample_seed: seed of the contexts and sampler noise used for the report.
    """

    def __init__(self, num_samples: int = 2000, filename: str = "bandit.png", sample_seed: int = 12345) -> None:
        if num_samples < 1:
            raise ValueError(f"BanditReport: num_samples must be >= 1, got {num_samples}")
        self.num_samples, self.filename, self.sample_seed = num_samples, filename, sample_seed
        # one BC-only reference per learner: the run's, or each member's in a members run (ramac.learners.members)
        self.references: list[_Reference] = []
        self._pending_states: list[dict[str, Any]] | None = None
        self._generator: torch.Generator | None = None
        self._module: pl.LightningModule | None = None  # the run's learner, for the gathers of a split members run
        self.results: dict[str, float] = {}  # the run's (the first member's) figures

    # -- training of the BC-only reference -------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not isinstance(trainer.datamodule, BanditDataModule):
            raise TypeError("BanditReport needs data: class_path ramac.data.bandit.BanditDataModule, got "
                            f"{type(trainer.datamodule).__name__}")
        fused = pl_module.device.type in ("cpu", "cuda")
        self._module = pl_module
        self.references = []
        for learner, _ in members_of(pl_module, trainer.default_root_dir):
            settings = learner.bc_reference()
            actor = copy.deepcopy(settings.actor).requires_grad_(True)
            optimizer = torch.optim.Adam(actor.parameters(), lr=settings.lr, fused=fused)
            self.references.append(_Reference(settings, actor, optimizer, learner.seed))
        if self._pending_states is not None:
            if len(self._pending_states) != len(self.references):
                raise ValueError(f"BanditReport: the checkpoint holds {len(self._pending_states)} BC references, the "
                                 f"run has {len(self.references)} learners")
            for reference, state in zip(self.references, self._pending_states, strict=True):
                reference.actor.load_state_dict(state["reference"])
                reference.optimizer.load_state_dict(state["optimizer"])
            self._pending_states = None
        self._generator = torch.Generator(device=pl_module.device)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        assert self._generator is not None
        iteration = pl_module.iteration - 1  # the learner has already counted this iteration
        split = isinstance(pl_module, Members) and pl_module.split
        rank = 0 if split else trainer.global_rank  # a split member draws as its solo run does, on rank 0
        for k, reference in enumerate(self.references):
            if split and pl_module.owner(k) != trainer.global_rank:
                continue  # trained by the member's own process (members split over devices)
            generator = self._generator.manual_seed(iteration_seed(reference.seed + _REFERENCE_STREAM, rank, iteration))
            data = pl_module.sampler.sample(generator)
            with torch.autocast(pl_module.device.type, enabled=False):
                loss = reference.settings.loss_weight * reference.actor.bc_loss(data.observations, data.actions,
                                                                                generator)
            reference.optimizer.zero_grad(set_to_none=False)
            loss.backward()
            clip_grad_norm_(list(reference.actor.parameters()), reference.settings.max_grad_norm)
            reference.optimizer.step()

    def _gather(self, pl_module: pl.LightningModule) -> None:
        """Members split over processes: every process gets each reference from its member's owner (collective)."""
        if not (isinstance(pl_module, Members) and pl_module.split):
            return
        import torch.distributed as dist

        for k, reference in enumerate(self.references):
            package = [{"reference": reference.actor.state_dict(), "optimizer": reference.optimizer.state_dict()}
                       if pl_module.owner(k) == pl_module.global_rank else None]
            dist.broadcast_object_list(package, src=pl_module.owner(k))
            reference.actor.load_state_dict(package[0]["reference"])
            reference.optimizer.load_state_dict(package[0]["optimizer"])

    def state_dict(self) -> dict[str, Any]:
        if self._module is not None:
            self._gather(self._module)
        states = [{"reference": r.actor.state_dict(), "optimizer": r.optimizer.state_dict()} for r in self.references]
        if len(states) <= 1:
            return states[0] if states else {}
        return {"members": states}  # ramac.learners.members.callback_state_for_member

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            self._pending_states = None
        else:
            self._pending_states = list(state_dict["members"]) if "members" in state_dict else [state_dict]

    # -- the report ---------------------------------------------------------------------------------
    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if isinstance(pl_module, Members):
            pl_module.gather()
            self._gather(pl_module)
        if not trainer.is_global_zero:
            return
        learners = members_of(pl_module, trainer.default_root_dir)
        for k, ((learner, root), reference) in enumerate(zip(learners, self.references, strict=True)):
            results = self._report(trainer, learner, reference, root, int(pl_module.iteration))
            if k == 0:
                self.results = results
            logged = {f"bandit/{key}": v for key, v in results.items() if not isinstance(v, list)}
            if isinstance(pl_module, Members):
                if pl_module.member_loggers:
                    pl_module.member_loggers[k].log_metrics(logged, step=trainer.global_step)
                    pl_module.member_loggers[k].save()
                logged = {f"{pl_module.seed_label(k)}/{key}": v for key, v in logged.items()}
            for logger in trainer.loggers:
                logger.log_metrics(logged, step=trainer.global_step)

    def _report(self, trainer: pl.Trainer, learner: pl.LightningModule, reference: _Reference, root: str,
                iterations: int) -> dict[str, Any]:
        """``bandit.json`` and ``bandit.png`` of one learner, written into ``root``; returns the figures."""
        bandit: RiskyBandit = trainer.datamodule.bandit
        rng = np.random.default_rng(self.sample_seed)
        contexts = bandit.sample_contexts(self.num_samples, rng)
        behaviour = bandit.sample_behaviour(contexts, rng)
        rewards, _ = bandit.rewards(contexts, behaviour, rng)
        obs = torch.as_tensor(contexts, dtype=torch.float32, device=learner.device)
        generator = torch.Generator(device=learner.device)
        with torch.no_grad():
            learned = learner.act(obs, generator.manual_seed(self.sample_seed)).float().cpu().numpy()
            cloned = reference.actor.sample(obs, generator.manual_seed(self.sample_seed)).float().cpu().numpy()
        results: dict[str, Any] = {"iterations": iterations}
        for who, actions in (("behaviour", behaviour), ("bc", cloned), ("learner", learned)):
            region = bandit.regions(contexts, actions)
            results[f"safe_fraction_{who}"] = float(np.mean(region == SAFE))
            results[f"ring_fraction_{who}"] = float(np.mean(region == RING))
            # between and outside the two modes, where the behaviour has almost no data: OOD leakage
            results[f"between_fraction_{who}"] = float(np.mean(region == ELSEWHERE))
            # rewards of the sampled actions, with the same reward noise for every policy (common random numbers)
            sampled, _ = bandit.rewards(contexts, actions, np.random.default_rng(self.sample_seed + 1))
            worst = np.sort(sampled)[:max(1, int(np.ceil(CVAR_ALPHA * len(sampled))))]
            results[f"reward_mean_{who}"] = float(sampled.mean())
            results[f"reward_cvar_{CVAR_ALPHA}_{who}"] = float(worst.mean())
            if who == "learner":  # for pooled statistics and the report's grid of samples
                results["rewards_learner"] = [round(float(r), 4) for r in sampled]
                results["offsets_learner"] = np.round(actions - bandit.centres(contexts), 3).tolist()
        os.makedirs(root, exist_ok=True)
        path = os.path.join(root, self.filename)
        temporary = os.path.splitext(path)[0] + ".json.tmp"
        with open(temporary, "w") as handle:  # written whole, then renamed: a sweep never reads half a result
            json.dump(results, handle, indent=2)
        os.replace(temporary, os.path.splitext(path)[0] + ".json")
        _plot(path, bandit, contexts, behaviour, rewards, cloned, learned, results, type(learner).__name__)
        return results


@dataclass
class _Reference:
    """A BC-only twin: its settings, its actor and optimiser, and the seed of the learner it shadows."""

    settings: BCReference
    actor: torch.nn.Module
    optimizer: torch.optim.Optimizer
    seed: int


def _plot(path: str, bandit: RiskyBandit, contexts: np.ndarray, behaviour: np.ndarray, rewards: np.ndarray,
          reference: np.ndarray, learned: np.ndarray, results: dict[str, float], learner_name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centre = bandit.centres(contexts)  # actions are drawn relative to the mode centre
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.6), constrained_layout=True)
    scatter = axes[0].scatter(*(behaviour - centre).T, c=rewards, s=5, cmap="viridis", vmin=bandit.penalty,
                              vmax=bandit.ring_reward)
    fig.colorbar(scatter, ax=axes[0], label="sampled reward")
    def shares(who: str) -> str:
        return (f"centre {results[f'safe_fraction_{who}']:.0%}, ring {results[f'ring_fraction_{who}']:.0%}, "
                f"between {results[f'between_fraction_{who}']:.0%}")

    axes[0].set_title(f"(a) ground truth\n{shares('behaviour')}")
    axes[1].scatter(*(reference - centre).T, s=5, color="tab:orange")
    axes[1].set_title(f"(b) BC only\n{shares('bc')}")
    axes[2].scatter(*(learned - centre).T, s=5, color="tab:blue")
    axes[2].set_title(f"(c) {learner_name}\n{shares('learner')}")
    for ax in axes:
        ax.add_patch(plt.Circle((0, 0), bandit.safe_radius, fill=False, ls="--", color="green"))
        for radius in (bandit.ring_radius - bandit.ring_halfwidth, bandit.ring_radius + bandit.ring_halfwidth):
            ax.add_patch(plt.Circle((0, 0), radius, fill=False, ls=":", color="red"))
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal", xlabel="a₁ − c₁", ylabel="a₂ − c₂")
    fig.suptitle(f"2-D risky bandit after {results['iterations']} iterations: shares of samples in the safe centre, "
                 "on the ring and between or outside the modes")
    fig.savefig(path, dpi=110)
    plt.close(fig)

