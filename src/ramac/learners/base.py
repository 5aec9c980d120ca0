"""Common machinery of ramac's offline learners (manual optimisation, RNG, DDP, resume).

What a learner iteration is: one call of :meth:`OfflineLearner.update`, which may step several
optimizers (RADAC: critic then actor). Lightning's ``global_step`` counts optimizer steps; ramac
routes every optimizer step but the last through the strategy without counting it, so
``trainer.global_step`` equals the number of learner iterations and ``--trainer.max_steps``,
``log_every_n_steps`` and ``ModelCheckpoint(every_n_train_steps=...)`` all count iterations.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from lightning.pytorch.strategies import ParallelStrategy
from torch import Tensor, nn

from ramac.data.datamodule import OfflineDataModule
from ramac.data.normalization import ObservationNormalizer
from ramac.data.transitions import TransitionSampler
from ramac.training.gradients import average_gradients, clip_grad_norm_
from ramac.training.memory import keep_freed_memory
from ramac.training.rng import iteration_seed
from ramac.types import Batch


@dataclass(frozen=True)
class BCReference:
    """How to train a behaviour-cloning twin of a learner's actor (the bandit report's BC-only panel): a copy of
    ``actor`` trained on ``loss_weight · actor.bc_loss`` with Adam at ``lr`` and gradient clip ``max_grad_norm``."""

    actor: nn.Module
    lr: float
    max_grad_norm: float
    loss_weight: float = 1.0


class OfflineLearner(pl.LightningModule):
    """Base class. Subclasses implement :meth:`update` and :meth:`act` and ``configure_optimizers``.

    Observations reach the networks normalised by :attr:`obs_normalizer` (identity unless the data
    module provides ``observation_stats``, which are copied in at fit start and saved with the model):
    the training data arrive normalised, and :meth:`act` takes raw environment observations.

    Args:
        obs_dim: observation dimension.
        seed: seed of the per-iteration random stream (batches, quantile levels, sampler noise).
            Iteration ``i`` on rank ``r`` draws from a generator seeded with ``(seed, r, i)``, so a
            resumed run repeats exactly the draws of an uninterrupted one.
    """

    def __init__(self, obs_dim: int, seed: int = 0) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.seed = seed
        self.obs_normalizer = ObservationNormalizer(obs_dim)
        self.iteration = 0
        self.sampler: TransitionSampler | None = None
        self._generator: torch.Generator | None = None
        self._counted_steps = 0
        # Set by ramac.learners.members.Members when this learner is one member of a members run: which of the
        # trainer's optimizers are this learner's, whether its counted step is the one Lightning counts, and whether
        # it trains alone on its process (members split over devices: rank-0 draws, no gradient exchange).
        self._optimizer_slice: slice | None = None
        self._counts_global_step = True
        self._rank_independent = False

    # -- to implement ----------------------------------------------------------------------------
    def update(self, batch: Batch, generator: torch.Generator) -> dict[str, Tensor]:
        """One learner iteration on ``batch``; returns detached metrics."""
        raise NotImplementedError

    def act(self, obs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Evaluation action for observations ``[B, O]`` -> ``[B, A]``."""
        raise NotImplementedError

    def bc_reference(self) -> BCReference:
        """The actor (and its optimiser settings) whose BC-only twin the bandit report trains."""
        raise NotImplementedError(f"{type(self).__name__} defines no BC reference (bc_reference)")

    # -- Lightning hooks ------------------------------------------------------------------------
    def on_fit_start(self) -> None:
        trainer = self.trainer
        if getattr(trainer.precision_plugin, "scaler", None) is not None or trainer.precision in (
                "16-mixed", "16-true", "transformer-engine-float16"):
            raise ValueError(
                f"--trainer.precision {trainer.precision} is not supported: ramac clips gradients per "
                "optimizer before stepping, and Lightning's float16 GradScaler only unscales inside the step, "
                "so the clip would act on scaled gradients. Use bf16-mixed (same speed on recent GPUs, no scaler).")
        datamodule = trainer.datamodule
        if not isinstance(datamodule, OfflineDataModule):
            raise TypeError("ramac learners need an OfflineDataModule (the `data:` section of the config); got "
                            f"{type(datamodule).__name__}")
        self.sampler = datamodule.make_sampler(self.device, self.sampler_world_size())
        self._generator = torch.Generator(device=self.device)
        stats = getattr(datamodule, "observation_stats", None)
        if stats is not None:
            self.obs_normalizer.set_statistics(*stats)
        for logger in trainer.loggers:
            logger.log_hyperparams({"data": datamodule.description})
        if self.device.type == "cpu":
            keep_freed_memory()

    def training_step(self, batch: Any, batch_idx: int) -> None:
        metrics = self.run_iteration()
        if self.iteration % self.trainer.log_every_n_steps == 0:
            self.log_dict(metrics, on_step=True, on_epoch=False, prog_bar=False, sync_dist=False)

    def run_iteration(self) -> dict[str, Tensor]:
        """One learner iteration: draw the batch from this iteration's generator, :meth:`update`, count it."""
        generator = self.iteration_generator()
        assert self.sampler is not None
        # An iteration runs several backward passes over disjoint parameter sets (RADAC: critic, then
        # actor); DDP's reducer expects one pass over all parameters per forward. So the reducer is
        # switched off (`no_sync`) and `update` averages gradients itself (`average_gradients`).
        strategy = self.trainer.strategy
        no_reducer = strategy.block_backward_sync() if isinstance(strategy, ParallelStrategy) else nullcontext()
        self._counted_steps = 0
        with no_reducer:
            metrics = self.update(self.sampler.sample(generator), generator)
        if self._counted_steps != 1:
            raise RuntimeError(f"{type(self).__name__}.update made {self._counted_steps} counted optimizer steps; "
                               "exactly one `optimize(..., counted=True)` per iteration keeps global_step == iteration")
        self.iteration += 1
        return metrics

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        _, key, pos, has_gauss, gauss = np.random.get_state()
        rng = {"torch": torch.get_rng_state(), "numpy": (key.tolist(), int(pos), int(has_gauss), float(gauss)),
               "python": random.getstate()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        checkpoint["ramac"] = {"iteration": self.iteration, "seed": self.seed, "rng": rng}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        state = checkpoint.get("ramac")
        if state is None:
            raise KeyError("checkpoint has no 'ramac' section: it was not written by a ramac learner")
        self.iteration = int(state["iteration"])
        if state["seed"] != self.seed:
            raise ValueError(f"checkpoint was trained with seed {state['seed']}, the config says {self.seed}; "
                             "resume with the same --seed_everything")
        rng = state["rng"]
        torch.set_rng_state(rng["torch"])
        key, pos, has_gauss, gauss = rng["numpy"]
        np.random.set_state(("MT19937", np.asarray(key, dtype=np.uint32), pos, has_gauss, gauss))
        random.setstate(rng["python"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def sampler_world_size(self) -> int:
        """How many processes share one batch (the global batch is split over them): every DDP rank."""
        return self.trainer.world_size

    # -- helpers for subclasses -----------------------------------------------------------------
    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        """Lightning's ``optimizers()``, restricted to this learner's own when it is one member of a members run."""
        if self._optimizer_slice is None:
            return super().optimizers(use_pl_optimizer)
        every = self.trainer.strategy._lightning_optimizers if use_pl_optimizer else self.trainer.optimizers
        own = list(every[self._optimizer_slice])
        return own[0] if len(own) == 1 else own

    def iteration_generator(self) -> torch.Generator:
        if self._generator is None:
            self._generator = torch.Generator(device=self.device)
        rank = 0 if self._rank_independent else self.global_rank
        return self._generator.manual_seed(iteration_seed(self.seed, rank, self.iteration))

    def logs_this_iteration(self) -> bool:
        """Whether the metrics of the running :meth:`update` will be logged (every ``log_every_n_steps``
        iterations): diagnostics that cost a forward pass are computed only then."""
        return self._trainer is not None and (self.iteration + 1) % self.trainer.log_every_n_steps == 0

    def optimize(self, optimizer: LightningOptimizer, loss: Tensor, module: nn.Module | Sequence[nn.Module], *,
                 max_norm: float = 0.0, ensemble_size: int | None = None, counted: bool = False) -> Tensor:
        """One optimizer step on ``loss`` for the parameters of ``module`` (or of several modules that share one
        optimizer, as FQL's single Adam); returns the gradient norm measured before clipping (``[E]`` with
        ``ensemble_size``, see :func:`ramac.training.gradients.clip_grad_norm_`).

        ``zero_grad`` → ``manual_backward`` (precision plugin) → mean over DDP ranks → clip to ``max_norm``
        (0: measure only) → step through the strategy. The last step of an iteration passes ``counted=True``
        and is the one Lightning counts in ``global_step``; every other step is taken without counting.
        """
        optimizer.zero_grad(set_to_none=False)
        self.manual_backward(loss)
        modules = [module] if isinstance(module, nn.Module) else list(module)
        params = [p for m in modules for p in m.parameters()]
        average_gradients(params, 1 if self._rank_independent else self.trainer.world_size)
        norm = clip_grad_norm_(params, max_norm, ensemble_size)
        if counted:
            self._counted_steps += 1
        if counted and self._counts_global_step:
            optimizer.step()
        else:
            self.trainer.strategy.optimizer_step(optimizer.optimizer, closure=lambda: None)
        return norm


def check_positive(owner: str, **values: float) -> None:
    """Refuse any option that is not > 0, naming the learner and the option."""
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{owner}: {name} must be > 0, got {value}")


def check_non_negative(owner: str, **values: float) -> None:
    """Refuse any option that is < 0, naming the learner and the option."""
    for name, value in values.items():
        if value < 0:
            raise ValueError(f"{owner}: {name} must be >= 0, got {value}")
